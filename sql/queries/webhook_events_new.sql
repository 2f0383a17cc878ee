-- Per account, the staged events webhook_events does not hold yet.
SELECT account, count(*)
FROM (SELECT DISTINCT account, event_id FROM webhook_staged) AS s
WHERE NOT EXISTS (SELECT 1 FROM webhook_events AS e
                  WHERE e.account = s.account AND e.event_id = s.event_id)
GROUP BY account;

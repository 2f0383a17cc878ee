-- A receiver run's counts are running totals: the largest seen wins, so a spool record
-- read twice (a segment loaded, then again before it was removed) counts once.
INSERT INTO webhook_rejections
SELECT account, day, reason, receiver, max(deliveries), max(last_at)
FROM webhook_rejections_staged
GROUP BY account, day, reason, receiver
ON CONFLICT (account, day, reason, receiver) DO UPDATE SET
    deliveries = greatest(webhook_rejections.deliveries, excluded.deliveries),
    last_at = greatest(webhook_rejections.last_at, excluded.last_at);

-- Findings of each account's previous run, in the period (order_rejected: in every period;
-- a link the warehouse does not hold: by its first transaction),
-- that its latest run no longer has (by key).
-- Staged: report_runs(account, run_id, prev_run_id). Parameters: $since, $until.
SELECT p.category, count(*) AS resolved
FROM report_runs AS r
JOIN findings AS p ON p.run_id = r.prev_run_id
LEFT JOIN orders AS o ON o.account = p.account AND o.order_id = p.order_id
LEFT JOIN payment_links AS l
    ON p.order_id IS NULL AND l.account = p.account AND l.id = p.link_id
LEFT JOIN transactions AS t
    ON p.category = 'transaction_unknown_link' AND t.account = p.account
   AND t.id = split_part(p.transaction_ids, ';', 1)
WHERE (p.category = 'order_rejected'
       OR (coalesce(o.created_at, l.created_at, t.created_at) >= $since
           AND coalesce(o.created_at, l.created_at, t.created_at) < $until))
  AND NOT EXISTS (
      SELECT 1 FROM findings AS f
      WHERE f.run_id = r.run_id AND f.finding_key = p.finding_key
  )
GROUP BY p.category;

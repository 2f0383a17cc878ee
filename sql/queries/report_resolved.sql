-- Findings of the previous run, in the period, that the latest run no longer has.
-- Parameters: $run_id, $prev_run_id, $since, $until.
SELECT p.category, count(*) AS resolved
FROM findings AS p
LEFT JOIN orders AS o ON o.order_id = p.order_id
LEFT JOIN payment_links AS l ON p.order_id IS NULL AND l.id = p.link_id
WHERE p.run_id = $prev_run_id
  AND coalesce(o.created_at, l.created_at) >= $since
  AND coalesce(o.created_at, l.created_at) < $until
  AND NOT EXISTS (
      SELECT 1 FROM findings AS f
      WHERE f.run_id = $run_id AND f.category = p.category
        AND f.order_id IS NOT DISTINCT FROM p.order_id
        AND f.link_id IS NOT DISTINCT FROM p.link_id
  )
GROUP BY p.category;

-- The latest run's findings about orders (or, for orphans, links) created in the period,
-- each marked new when the previous run did not have it (same category, order and link).
-- Parameters: $run_id, $prev_run_id, $since, $until.
CREATE OR REPLACE TEMP TABLE report_findings AS
WITH scoped AS (
    SELECT f.*, coalesce(o.created_at, l.created_at) AS subject_created_at
    FROM findings AS f
    LEFT JOIN orders AS o ON o.order_id = f.order_id
    LEFT JOIN payment_links AS l ON f.order_id IS NULL AND l.id = f.link_id
    WHERE f.run_id = $run_id
)
SELECT
    s.*,
    NOT EXISTS (
        SELECT 1 FROM findings AS p
        WHERE p.run_id = $prev_run_id AND p.category = s.category
          AND p.order_id IS NOT DISTINCT FROM s.order_id
          AND p.link_id IS NOT DISTINCT FROM s.link_id
    ) AS is_new
FROM scoped AS s
WHERE s.subject_created_at >= $since AND s.subject_created_at < $until;

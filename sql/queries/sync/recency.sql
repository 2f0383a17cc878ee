-- For planning an incremental sync: creation times that cut the records held in a status
-- that may still change ($open) into about $points groups, newest first; for each, the share
-- of those records created at or after it, and per final status how many records held were.
WITH open_records AS (
    SELECT created_at, row_number() OVER (ORDER BY created_at DESC) AS n,
           count(*) OVER () AS total
    FROM {records}
    WHERE account = $account AND list_contains($open, status) AND vanished_at IS NULL
), cuts AS (
    SELECT created_at, n / total AS share FROM open_records
    WHERE n % greatest(1, total // $points) = 0 OR n = total
)
SELECT c.created_at, c.share, p.status, count(p.id) FROM cuts AS c
LEFT JOIN {records} AS p ON p.account = $account AND p.created_at >= c.created_at
    AND NOT list_contains($open, p.status) AND p.vanished_at IS NULL
GROUP BY c.created_at, c.share, p.status
ORDER BY c.share;

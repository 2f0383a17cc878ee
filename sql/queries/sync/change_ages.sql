-- How old (seconds since creation) records of one list were when earlier syncs saw them
-- reach a final status from one that may change ($open), for the latest $limit such changes.
SELECT epoch(h.observed_at) - epoch(p.created_at)
FROM {history} AS h
JOIN {records} AS p ON p.account = h.account AND p.id = h.{noun}_id
WHERE h.account = $account AND list_contains($open, h.old_status)
  AND NOT list_contains($open, h.new_status) AND h.sync_run_id <> $run_id
ORDER BY h.id DESC
LIMIT $limit;

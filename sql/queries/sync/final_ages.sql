-- How old (seconds since creation) records of one list were when they reached a final
-- status, by their own stamp of it ({final_at}), for the latest $limit of them.
SELECT epoch({final_at}) - epoch(created_at) FROM {records}
WHERE account = $account AND {final_at} IS NOT NULL AND vanished_at IS NULL
ORDER BY {final_at} DESC
LIMIT $limit;

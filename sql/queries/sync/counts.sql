-- Per status: the records of one list the warehouse holds (vanished ones left out), and the
-- run's quarantined records under the status whose list showed them.
SELECT status, count(*) AS held, 0 AS quarantined FROM {records}
WHERE account = $account AND vanished_at IS NULL
GROUP BY status
UNION ALL
SELECT listed_status, 0, count(DISTINCT record) FROM quarantine
WHERE sync_run_id = $run_id AND listed_status IS NOT NULL
GROUP BY listed_status;

-- A record this sync run quarantined from an unfiltered list, now seen in a status's list:
-- it is quarantined under that status (quarantine.sql).
UPDATE quarantine AS q SET listed_status = b.listed_status
FROM (SELECT run_id, record, max(listed_status) AS listed_status FROM quarantine_batch
      WHERE listed_status IS NOT NULL GROUP BY run_id, record) AS b
WHERE q.sync_run_id = b.run_id AND q.record = b.record AND q.listed_status IS NULL;

-- Quarantine malformed records of one list ({noun}s), once per record per sync run.
INSERT INTO quarantine
    (account, resource, sync_run_id, observed_at, listed_status, {noun}_id, reason, record)
SELECT DISTINCT b.account, $resource, b.run_id, $observed_at, b.listed_status, b.record_id,
       b.reason, b.record
FROM quarantine_batch AS b
WHERE NOT EXISTS (
    SELECT 1 FROM quarantine AS q WHERE q.sync_run_id = b.run_id AND q.record = b.record
);

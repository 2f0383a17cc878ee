-- Quarantine malformed records, once per record per sync run.
INSERT INTO quarantine
    (account, sync_run_id, observed_at, listed_status, link_id, reason, record)
SELECT DISTINCT b.account, b.run_id, $observed_at, b.listed_status, b.link_id, b.reason,
       b.record
FROM quarantine_batch AS b
WHERE NOT EXISTS (
    SELECT 1 FROM quarantine AS q WHERE q.sync_run_id = b.run_id AND q.record = b.record
);

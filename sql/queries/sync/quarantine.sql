-- Quarantine malformed records of one list ({noun}s), once per record per sync run, under the
-- status whose list showed it (an unfiltered list shows none: a status list's wins).
INSERT INTO quarantine
    (account, resource, sync_run_id, observed_at, listed_status, {noun}_id, reason, record)
SELECT b.account, $resource, b.run_id, $observed_at, max(b.listed_status), any_value(b.record_id),
       any_value(b.reason), b.record
FROM quarantine_batch AS b
WHERE NOT EXISTS (
    SELECT 1 FROM quarantine AS q WHERE q.sync_run_id = b.run_id AND q.record = b.record
)
GROUP BY b.account, b.run_id, b.record;

-- Status changes and first sightings of record_batch's transactions into history. A
-- sighting behind the status held is no change.
INSERT INTO transaction_status_history
    (account, transaction_id, old_status, new_status, observed_at, sync_run_id)
SELECT account, id, old_status, status, $observed_at, run_id
FROM record_batch
WHERE NOT known OR (old_status <> status AND NOT keeps_held);

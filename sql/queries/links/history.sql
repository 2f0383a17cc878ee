-- Status changes and first sightings of record_batch's links into history. A final status
-- (paid, expired, deactivated) never goes back to active, so that is no change.
INSERT INTO link_status_history
    (account, link_id, old_status, new_status, observed_at, sync_run_id)
SELECT account, id, old_status, status, $observed_at, run_id
FROM record_batch
WHERE NOT known OR (old_status <> status AND NOT keeps_held);

-- The records of one list (links or transactions: {records}) a sync run accounts for,
-- counted once each: those it observed (in a list or by id, quarantined or not) and, with
-- $include_final, those the warehouse holds in a final status (not in $open: a final status
-- never changes, so an earlier observation still holds), all of the run's $account. A
-- record without an id is counted once per distinct text.
WITH accounted AS (
    SELECT id FROM {records}
    WHERE account = $account
      AND (last_seen_run = $run_id
           OR ($include_final AND NOT list_contains($open, status) AND vanished_at IS NULL))
), quarantined AS (
    SELECT DISTINCT {noun}_id AS id FROM quarantine
    WHERE sync_run_id = $run_id AND {noun}_id IS NOT NULL
)
SELECT (SELECT count(*) FROM accounted)
       + (SELECT count(*) FROM quarantined
          WHERE id NOT IN (SELECT a.id FROM accounted AS a
                           WHERE a.id IN (SELECT id FROM quarantined)))
       + (SELECT count(DISTINCT record) FROM quarantine
          WHERE sync_run_id = $run_id AND {noun}_id IS NULL);

-- Records held (not vanished) that this run's proof does not account for: not observed in
-- it, nor quarantined in it, nor (with $include_final) held in a final status.
SELECT id FROM {records}
WHERE account = $account AND vanished_at IS NULL
  AND last_seen_run IS DISTINCT FROM $run_id
  AND NOT ($include_final AND NOT list_contains($open, status))
  AND id NOT IN (SELECT {noun}_id FROM quarantine
                 WHERE sync_run_id = $run_id AND {noun}_id IS NOT NULL)
ORDER BY id;

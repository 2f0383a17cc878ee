-- Records held in a status that may still change ($open) that this run has not observed,
-- leaving out those among the $newest newest records held (the proof's page reads them).
SELECT id FROM {records}
WHERE account = $account AND list_contains($open, status) AND vanished_at IS NULL
  AND last_seen_run IS DISTINCT FROM $run_id
  AND id NOT IN (SELECT id FROM {records} WHERE account = $account
                 ORDER BY created_at DESC LIMIT $newest)
ORDER BY id;

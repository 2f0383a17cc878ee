-- Records of one list the warehouse holds that this run saw only malformed (quarantined, and
-- not observed readable): the warehouse keeps their last readable status, which may be out
-- of date. Their ids and that status.
SELECT r.id, r.status FROM {records} AS r
WHERE r.account = $account AND r.vanished_at IS NULL AND r.last_seen_run IS DISTINCT FROM $run_id
  AND r.id IN (SELECT {noun}_id FROM quarantine
               WHERE sync_run_id = $run_id AND {noun}_id IS NOT NULL)
ORDER BY r.id;

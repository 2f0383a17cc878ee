-- Keep every observed status change (and first sighting) of the staged batch.
INSERT INTO link_status_history (link_id, old_status, new_status, observed_at, sync_run_id)
SELECT b.id, p.status, b.status, $observed_at, $run_id
FROM link_batch AS b
LEFT JOIN payment_links AS p ON p.id = b.id
WHERE p.id IS NULL
   OR (p.status <> b.status
       AND NOT (p.status IN ('paid', 'expired', 'deactivated') AND b.status = 'active'));

-- Ids of one list quarantined by earlier runs, not in the warehouse, and not observed in
-- this run: records PIK still counts, which only a fetch by id finds cheaply.
SELECT DISTINCT {noun}_id FROM quarantine
WHERE account = $account AND {noun}_id IS NOT NULL
  AND {noun}_id NOT IN (SELECT id FROM {records} WHERE account = $account)
  AND {noun}_id NOT IN (SELECT {noun}_id FROM quarantine
                        WHERE sync_run_id = $run_id AND {noun}_id IS NOT NULL)
ORDER BY 1;

-- How a sync run of one list ({name}: links or transactions) ended. The requests are the
-- run's RequestCounts (pik_recon/sync/pages.py): requests = every attempt sent,
-- budget_spent = requests charged to request_budget (a retried one once).
UPDATE sync_runs SET
    finished_at = $finished_at, state = $state, strategy = $strategy, verified = $verified,
    verdict = $verdict, error = $error,
    requests = $requests, retries = $retries, request_budget = $request_budget,
    budget_spent = $budget_spent,
    {name}_new = $new, {name}_changed = $changed, quarantined = $quarantined,
    {name}_vanished = $vanished, {name}_moved = $moved,
    pik_totals = $pik_totals, warehouse_counts = $warehouse_counts, pik_total = $pik_total,
    accounted = $accounted
WHERE id = $run_id;

-- A link PIK no longer returns (404 by id) is kept, marked vanished; a sync run records its
-- request budget, what it spent, and the count its completeness proof rests on.
ALTER TABLE payment_links ADD COLUMN vanished_at TIMESTAMPTZ;
ALTER TABLE sync_runs ADD COLUMN request_budget INTEGER;
ALTER TABLE sync_runs ADD COLUMN budget_spent INTEGER;
ALTER TABLE sync_runs ADD COLUMN pik_total BIGINT;        -- PIK's count of every link, at the proof
ALTER TABLE sync_runs ADD COLUMN accounted BIGINT;        -- links the proof accounted for then
ALTER TABLE sync_runs ADD COLUMN links_vanished INTEGER;
ALTER TABLE sync_runs ADD COLUMN links_moved INTEGER;     -- per-status differences at the end

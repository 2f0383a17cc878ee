-- Transactions are synced as links are, each list in a sync run of its own: a sync run and a
-- quarantined record say which list (resource) they are about. Rows from before, and rows
-- written without one, are the links'. A transactions run counts what it brought in the
-- transactions_* columns (links_* stay NULL on it, and the reverse); a quarantined
-- transaction's id is in transaction_id (link_id NULL).
ALTER TABLE sync_runs ADD COLUMN resource VARCHAR DEFAULT 'links';
ALTER TABLE sync_runs ALTER COLUMN resource SET NOT NULL;
ALTER TABLE sync_runs ADD COLUMN transactions_new INTEGER;
ALTER TABLE sync_runs ADD COLUMN transactions_changed INTEGER;
ALTER TABLE sync_runs ADD COLUMN transactions_vanished INTEGER;
ALTER TABLE sync_runs ADD COLUMN transactions_moved INTEGER;

ALTER TABLE quarantine ADD COLUMN resource VARCHAR DEFAULT 'links';
ALTER TABLE quarantine ALTER COLUMN resource SET NOT NULL;
ALTER TABLE quarantine ADD COLUMN transaction_id VARCHAR;

-- Several PIK accounts in one warehouse: every table carries the account its rows belong to
-- (job_runs, whose runs may cover several, the list of them). Rows from before are the one
-- account there was, `default`. The column keeps no default, so a write that forgets its
-- account fails instead of landing in `default`.
ALTER TABLE payment_links ADD COLUMN account VARCHAR DEFAULT 'default';
ALTER TABLE payment_links ALTER COLUMN account SET NOT NULL;
ALTER TABLE payment_links ALTER COLUMN account DROP DEFAULT;

ALTER TABLE link_status_history ADD COLUMN account VARCHAR DEFAULT 'default';
ALTER TABLE link_status_history ALTER COLUMN account SET NOT NULL;
ALTER TABLE link_status_history ALTER COLUMN account DROP DEFAULT;

ALTER TABLE sync_runs ADD COLUMN account VARCHAR DEFAULT 'default';
ALTER TABLE sync_runs ALTER COLUMN account SET NOT NULL;
ALTER TABLE sync_runs ALTER COLUMN account DROP DEFAULT;

ALTER TABLE quarantine ADD COLUMN account VARCHAR DEFAULT 'default';
ALTER TABLE quarantine ALTER COLUMN account SET NOT NULL;
ALTER TABLE quarantine ALTER COLUMN account DROP DEFAULT;

ALTER TABLE order_imports ADD COLUMN account VARCHAR DEFAULT 'default';
ALTER TABLE order_imports ALTER COLUMN account SET NOT NULL;
ALTER TABLE order_imports ALTER COLUMN account DROP DEFAULT;

ALTER TABLE orders ADD COLUMN account VARCHAR DEFAULT 'default';
ALTER TABLE orders ALTER COLUMN account SET NOT NULL;
ALTER TABLE orders ALTER COLUMN account DROP DEFAULT;

ALTER TABLE order_rejects ADD COLUMN account VARCHAR DEFAULT 'default';
ALTER TABLE order_rejects ALTER COLUMN account SET NOT NULL;
ALTER TABLE order_rejects ALTER COLUMN account DROP DEFAULT;

ALTER TABLE reconcile_runs ADD COLUMN account VARCHAR DEFAULT 'default';
ALTER TABLE reconcile_runs ALTER COLUMN account SET NOT NULL;
ALTER TABLE reconcile_runs ALTER COLUMN account DROP DEFAULT;

ALTER TABLE findings ADD COLUMN account VARCHAR DEFAULT 'default';
ALTER TABLE findings ALTER COLUMN account SET NOT NULL;
ALTER TABLE findings ALTER COLUMN account DROP DEFAULT;

ALTER TABLE finding_acks ADD COLUMN account VARCHAR DEFAULT 'default';
ALTER TABLE finding_acks ALTER COLUMN account SET NOT NULL;
ALTER TABLE finding_acks ALTER COLUMN account DROP DEFAULT;

ALTER TABLE job_runs ADD COLUMN accounts VARCHAR[] DEFAULT ['default'];
ALTER TABLE job_runs ALTER COLUMN accounts DROP DEFAULT;

-- An order id is one order within its account: the ledger's key becomes (account, order_id).
CREATE TABLE link_requests_v10 (
    account       VARCHAR NOT NULL,
    order_id      VARCHAR NOT NULL,
    amount        DECIMAL(38, 18) NOT NULL,
    amount_text   VARCHAR NOT NULL,
    currency      VARCHAR NOT NULL,
    description   VARCHAR NOT NULL,
    state         VARCHAR NOT NULL,          -- pending | sent | unknown | created | failed | conflict
    link_id       VARCHAR,
    url           VARCHAR,
    attempts      INTEGER NOT NULL DEFAULT 0,
    error         VARCHAR,
    source_file   VARCHAR,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account, order_id)
);
INSERT INTO link_requests_v10 SELECT 'default', * FROM link_requests;
DROP TABLE link_requests;
ALTER TABLE link_requests_v10 RENAME TO link_requests;

-- Orders imported from the shop, rejected rows, the creation ledger, reconciliation runs
-- and their findings.
CREATE SEQUENCE order_imports_seq;
CREATE TABLE order_imports (
    id             BIGINT PRIMARY KEY,
    file           VARCHAR NOT NULL,
    file_sha256    VARCHAR NOT NULL,
    exported_at    TIMESTAMPTZ NOT NULL,      -- the file's modification time
    loaded_at      TIMESTAMPTZ NOT NULL,
    rows_read      INTEGER NOT NULL,
    orders_loaded  INTEGER NOT NULL,
    rows_filtered  INTEGER NOT NULL,          -- not crypto orders, left out by the filter
    rows_rejected  INTEGER NOT NULL
);

CREATE TABLE orders (
    order_id        VARCHAR PRIMARY KEY,
    amount          DECIMAL(38, 18) NOT NULL,
    amount_text     VARCHAR NOT NULL,         -- the cell as exported
    currency        VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,         -- awaiting_payment | paid | cancelled | refunded
    shop_status     VARCHAR NOT NULL,         -- the shop's own value
    created_at      TIMESTAMPTZ NOT NULL,
    link_id         VARCHAR,
    payment_method  VARCHAR,
    import_id       BIGINT NOT NULL,
    exported_at     TIMESTAMPTZ NOT NULL,
    source_line     INTEGER NOT NULL
);

CREATE TABLE order_rejects (
    import_id    BIGINT NOT NULL,
    file         VARCHAR NOT NULL,
    line         INTEGER NOT NULL,
    column_name  VARCHAR,
    value        VARCHAR,
    reason       VARCHAR NOT NULL
);

CREATE TABLE link_requests (
    order_id      VARCHAR PRIMARY KEY,
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
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE SEQUENCE reconcile_runs_seq;
CREATE TABLE reconcile_runs (
    id              BIGINT PRIMARY KEY,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    as_of           TIMESTAMPTZ NOT NULL,     -- ages are counted up to this time
    state           VARCHAR NOT NULL,         -- running | finished | failed
    sync_run_id     BIGINT,                   -- the last sync the links came from
    orders          INTEGER,
    links           INTEGER,
    findings        INTEGER,
    critical        INTEGER,
    warning         INTEGER,
    info            INTEGER
);

CREATE TABLE findings (
    run_id          BIGINT NOT NULL,
    category        VARCHAR NOT NULL,
    severity        VARCHAR NOT NULL,         -- critical | warning | info
    order_id        VARCHAR,
    link_id         VARCHAR,                  -- the link the finding is about
    link_ids        VARCHAR,                  -- every link matched to the order, ';'-separated
    order_amount    DECIMAL(38, 18),
    order_currency  VARCHAR,
    link_amount     DECIMAL(38, 18),
    link_currency   VARCHAR,
    difference      DECIMAL(38, 18),          -- link_amount - order_amount (paid links)
    order_status    VARCHAR,
    link_status     VARCHAR,
    age_days        INTEGER,
    match_method    VARCHAR,                  -- link_id_column | creation_ledger | description
    description     VARCHAR
);

-- Payment links as last observed on PIK, their status history, sync runs, and quarantine.
CREATE TABLE payment_links (
    id             VARCHAR PRIMARY KEY,
    url            VARCHAR,
    amount         DECIMAL(38, 18) NOT NULL,
    amount_text    VARCHAR NOT NULL,          -- the amount exactly as PIK sent it
    currency       VARCHAR NOT NULL,
    description    VARCHAR,
    status         VARCHAR NOT NULL,          -- active | paid | expired | deactivated
    created_at     TIMESTAMPTZ NOT NULL,
    paid_at        TIMESTAMPTZ,
    first_seen_at  TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    last_seen_run  BIGINT
);

CREATE SEQUENCE link_status_history_seq;
CREATE TABLE link_status_history (
    id           BIGINT PRIMARY KEY DEFAULT nextval('link_status_history_seq'),
    link_id      VARCHAR NOT NULL,
    old_status   VARCHAR,                     -- NULL when the link is first seen
    new_status   VARCHAR NOT NULL,
    observed_at  TIMESTAMPTZ NOT NULL,
    sync_run_id  BIGINT NOT NULL
);

CREATE SEQUENCE sync_runs_seq;
CREATE TABLE sync_runs (
    id              BIGINT PRIMARY KEY,
    mode            VARCHAR NOT NULL,         -- full | incremental
    strategy        VARCHAR,                  -- what ran, per status
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    state           VARCHAR NOT NULL,         -- running | finished | failed | interrupted
    verified        BOOLEAN,
    verdict         VARCHAR,
    requests        INTEGER,
    retries         INTEGER,
    links_new       INTEGER,
    links_changed   INTEGER,
    quarantined     INTEGER,
    pik_totals      JSON,                     -- PIK's total per status at verification
    warehouse_counts JSON,                    -- the warehouse's count per status then
    error           VARCHAR
);

CREATE SEQUENCE quarantine_seq;
CREATE TABLE quarantine (
    id             BIGINT PRIMARY KEY DEFAULT nextval('quarantine_seq'),
    sync_run_id    BIGINT NOT NULL,
    observed_at    TIMESTAMPTZ NOT NULL,
    listed_status  VARCHAR,                   -- the status filter of the page it came from
    link_id        VARCHAR,
    reason         VARCHAR NOT NULL,
    record         VARCHAR NOT NULL           -- the record whole, as JSON text
);

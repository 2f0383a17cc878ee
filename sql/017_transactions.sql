-- PIK's transactions (what customers actually sent on a link) as last observed, and every
-- status change the warehouse observed. Kept like payment_links: no primary-key index (the
-- sync's merge keeps (account, id) unique), the id and the amount text uncompressed.
CREATE TABLE transactions (
    account          VARCHAR NOT NULL,
    id               VARCHAR USING COMPRESSION uncompressed NOT NULL,
    payment_link_id  VARCHAR,
    amount           DECIMAL(38, 18) NOT NULL,
    amount_text      VARCHAR USING COMPRESSION uncompressed NOT NULL,  -- as PIK sent it
    currency         VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,        -- pending | confirmed | settled | failed
    tx_hash          VARCHAR,
    created_at       TIMESTAMPTZ NOT NULL,
    confirmed_at     TIMESTAMPTZ,
    settled_at       TIMESTAMPTZ,
    first_seen_at    TIMESTAMPTZ NOT NULL,
    last_seen_at     TIMESTAMPTZ NOT NULL,
    last_seen_run    BIGINT,
    vanished_at      TIMESTAMPTZ              -- PIK answered 404 for it
);

CREATE SEQUENCE transaction_status_history_seq;
CREATE TABLE transaction_status_history (
    id              BIGINT NOT NULL DEFAULT nextval('transaction_status_history_seq'),
    account         VARCHAR NOT NULL,
    transaction_id  VARCHAR USING COMPRESSION uncompressed NOT NULL,
    old_status      VARCHAR,                  -- NULL when the transaction is first seen
    new_status      VARCHAR NOT NULL,
    observed_at     TIMESTAMPTZ NOT NULL,
    sync_run_id     BIGINT NOT NULL
);

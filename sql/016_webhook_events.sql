-- Webhook capture: PIK's events, once per account and event id, as the receiver
-- stored them (their signature checked) or as a dashboard export held them (unsigned), and
-- the deliveries refused for a bad or missing signature, counted, never stored.
CREATE TABLE webhook_events (
    account          VARCHAR NOT NULL,
    event_id         VARCHAR NOT NULL,       -- the body's id: what deduplicates deliveries
    event_type       VARCHAR NOT NULL,       -- the body's event, e.g. payment.confirmed
    created_at       TIMESTAMPTZ,            -- the body's created_at
    received_at      TIMESTAMPTZ NOT NULL,   -- first delivery to the receiver (or the load)
    transaction_id   VARCHAR,                -- the rest from the body's data
    payment_link_id  VARCHAR,
    amount           DECIMAL(38, 18),        -- NULL unless data.amount is a decimal string
    amount_text      VARCHAR,                -- data.amount as written
    currency         VARCHAR,
    status           VARCHAR,
    confirmed_at     TIMESTAMPTZ,
    signed           BOOLEAN NOT NULL,       -- its PIK-Signature was checked on arrival
    signature        VARCHAR,                -- that signature (hex), to check again
    source           VARCHAR NOT NULL,       -- 'receiver', or the file it was loaded from
    body             VARCHAR NOT NULL,       -- the raw body, exactly as PIK sent it
    loaded_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account, event_id)
);

-- A receiver run counts what it refuses per account, UTC day and reason (missing_signature,
-- bad_signature, not_an_event); one row per receiver run that refused any.
CREATE TABLE webhook_rejections (
    account     VARCHAR NOT NULL,
    day         DATE NOT NULL,
    reason      VARCHAR NOT NULL,
    receiver    VARCHAR NOT NULL,
    deliveries  BIGINT NOT NULL,
    last_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account, day, reason, receiver)
);

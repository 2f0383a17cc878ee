-- Findings finance can close. A finding keeps its key across runs (its category, order and
-- link) and carries a digest of what it says (amounts, currencies, statuses, links); an
-- acknowledgement holds for the findings with its key and digest, so a finding that changes
-- is open again by itself.
ALTER TABLE findings ADD COLUMN finding_key VARCHAR;
ALTER TABLE findings ADD COLUMN state_digest VARCHAR;
UPDATE findings SET
    finding_key = left(md5(concat_ws('|', category, coalesce(order_id, ''),
                                     coalesce(link_id, ''))), 12),
    state_digest = md5(concat_ws('|', coalesce(CAST(order_amount AS VARCHAR), ''),
                                 coalesce(order_currency, ''),
                                 coalesce(CAST(link_amount AS VARCHAR), ''),
                                 coalesce(link_currency, ''),
                                 coalesce(CAST(difference AS VARCHAR), ''),
                                 coalesce(order_status, ''), coalesce(link_status, ''),
                                 coalesce(link_ids, '')));

CREATE SEQUENCE finding_acks_seq;
CREATE TABLE finding_acks (
    id               BIGINT PRIMARY KEY DEFAULT nextval('finding_acks_seq'),
    finding_key      VARCHAR NOT NULL,
    category         VARCHAR NOT NULL,
    order_id         VARCHAR,
    link_id          VARCHAR,
    state_digest     VARCHAR NOT NULL,    -- what the finding said when acknowledged
    note             VARCHAR NOT NULL,
    acknowledged_by  VARCHAR NOT NULL,
    acknowledged_at  TIMESTAMPTZ NOT NULL,
    run_id           BIGINT NOT NULL,     -- the reconciliation run it was read from
    reopened_at      TIMESTAMPTZ,         -- `pik-recon findings reopen`
    reopened_by      VARCHAR
);

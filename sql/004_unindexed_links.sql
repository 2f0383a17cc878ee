-- payment_links and link_status_history without primary-key indexes. The sync's merge keeps
-- link ids unique (one writer; a batch is deduplicated, then only ids the table lacks are
-- inserted), and keeping an index of every id in memory cost more than the rest of a merge.
CREATE TABLE payment_links_v4 (
    id             VARCHAR NOT NULL,
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
INSERT INTO payment_links_v4 SELECT * FROM payment_links;
DROP TABLE payment_links;
ALTER TABLE payment_links_v4 RENAME TO payment_links;

CREATE TABLE link_status_history_v4 (
    id           BIGINT NOT NULL DEFAULT nextval('link_status_history_seq'),
    link_id      VARCHAR NOT NULL,
    old_status   VARCHAR,                     -- NULL when the link is first seen
    new_status   VARCHAR NOT NULL,
    observed_at  TIMESTAMPTZ NOT NULL,
    sync_run_id  BIGINT NOT NULL
);
INSERT INTO link_status_history_v4 SELECT * FROM link_status_history;
DROP TABLE link_status_history;
ALTER TABLE link_status_history_v4 RENAME TO link_status_history;

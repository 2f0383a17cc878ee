-- The transactions of record_batch the warehouse holds: refreshed, except that a sighting
-- behind what the warehouse holds (pending after confirmed, anything after settled or
-- failed) keeps the status, hash and times held.
UPDATE transactions AS t SET
    payment_link_id = b.payment_link_id,
    amount = CAST(b.amount_text AS DECIMAL(38, 18)),
    amount_text = b.amount_text,
    currency = b.currency,
    created_at = CAST(b.created_at AS TIMESTAMPTZ),
    status = CASE WHEN b.keeps_held THEN t.status ELSE b.status END,
    tx_hash = CASE WHEN b.keeps_held THEN t.tx_hash ELSE b.tx_hash END,
    confirmed_at = CASE WHEN b.keeps_held THEN t.confirmed_at
                        ELSE CAST(b.confirmed_at AS TIMESTAMPTZ) END,
    settled_at = CASE WHEN b.keeps_held THEN t.settled_at
                      ELSE CAST(b.settled_at AS TIMESTAMPTZ) END,
    last_seen_at = $observed_at,
    last_seen_run = b.run_id,
    vanished_at = NULL
FROM record_batch AS b
WHERE b.known AND t.account = b.account AND t.id = b.id;

-- The links of record_batch the warehouse holds: refreshed, except that a final status (paid,
-- expired, deactivated) never goes back to active.
UPDATE payment_links AS p SET
    url = b.url,
    amount = CAST(b.amount_text AS DECIMAL(38, 18)),
    amount_text = b.amount_text,
    currency = b.currency,
    description = b.description,
    created_at = CAST(b.created_at AS TIMESTAMPTZ),
    status = CASE WHEN b.keeps_held THEN p.status ELSE b.status END,
    paid_at = CASE WHEN b.keeps_held THEN p.paid_at ELSE CAST(b.paid_at AS TIMESTAMPTZ) END,
    last_seen_at = $observed_at,
    last_seen_run = b.run_id,
    vanished_at = NULL
FROM record_batch AS b
WHERE b.known AND p.account = b.account AND p.id = b.id;

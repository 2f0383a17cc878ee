-- Merge the staged batch into payment_links; amounts are cast from their text, never a float.
INSERT INTO payment_links AS p
    (id, url, amount, amount_text, currency, description, status, created_at, paid_at,
     first_seen_at, last_seen_at, last_seen_run)
SELECT id, url, CAST(amount_text AS DECIMAL(38, 18)), amount_text, currency, description,
       status, CAST(created_at AS TIMESTAMPTZ), CAST(paid_at AS TIMESTAMPTZ),
       $observed_at, $observed_at, $run_id
FROM link_batch
ON CONFLICT (id) DO UPDATE SET
    url = excluded.url,
    amount = excluded.amount,
    amount_text = excluded.amount_text,
    currency = excluded.currency,
    description = excluded.description,
    created_at = excluded.created_at,
    status = CASE WHEN p.status IN ('paid', 'expired', 'deactivated') AND excluded.status = 'active'
                  THEN p.status ELSE excluded.status END,
    paid_at = CASE WHEN p.status IN ('paid', 'expired', 'deactivated') AND excluded.status = 'active'
                   THEN p.paid_at ELSE excluded.paid_at END,
    last_seen_at = excluded.last_seen_at,
    last_seen_run = excluded.last_seen_run;

-- The links of record_batch the warehouse lacks; amounts are cast from their text, never a
-- float.
INSERT INTO payment_links
    (account, id, url, amount, amount_text, currency, description, status, created_at, paid_at,
     first_seen_at, last_seen_at, last_seen_run)
SELECT account, id, url, CAST(amount_text AS DECIMAL(38, 18)), amount_text, currency, description,
       status, CAST(created_at AS TIMESTAMPTZ), CAST(paid_at AS TIMESTAMPTZ),
       $observed_at, $observed_at, run_id
FROM record_batch
WHERE NOT known;

-- The transactions of record_batch the warehouse lacks; amounts are cast from their text,
-- never a float.
INSERT INTO transactions
    (account, id, payment_link_id, amount, amount_text, currency, status, tx_hash, created_at,
     confirmed_at, settled_at, first_seen_at, last_seen_at, last_seen_run)
SELECT account, id, payment_link_id, CAST(amount_text AS DECIMAL(38, 18)), amount_text,
       currency, status, tx_hash, CAST(created_at AS TIMESTAMPTZ),
       CAST(confirmed_at AS TIMESTAMPTZ), CAST(settled_at AS TIMESTAMPTZ),
       $observed_at, $observed_at, run_id
FROM record_batch
WHERE NOT known;

-- The staged deliveries into webhook_events, once per account and event id: within the
-- batch a signed delivery before an unsigned one, then the first received. An event held
-- unsigned (from a dashboard export) takes a signed delivery's body when one comes; an
-- event held signed never changes.
INSERT INTO webhook_events (account, event_id, event_type, created_at, received_at,
                            transaction_id, payment_link_id, amount, amount_text, currency,
                            status, confirmed_at, signed, signature, source, body, loaded_at)
SELECT account, event_id, event_type, created_at, received_at, transaction_id,
       payment_link_id, CAST(amount_plain AS DECIMAL(38, 18)), amount_text, currency, status,
       confirmed_at, signed, signature, source, body, $loaded_at
FROM (SELECT *, row_number() OVER (PARTITION BY account, event_id
                                   ORDER BY signed DESC, received_at) AS pick
      FROM webhook_staged)
WHERE pick = 1
ON CONFLICT (account, event_id) DO UPDATE SET
    event_type = excluded.event_type, created_at = excluded.created_at,
    received_at = excluded.received_at, transaction_id = excluded.transaction_id,
    payment_link_id = excluded.payment_link_id, amount = excluded.amount,
    amount_text = excluded.amount_text, currency = excluded.currency,
    status = excluded.status, confirmed_at = excluded.confirmed_at, signed = excluded.signed,
    signature = excluded.signature, source = excluded.source, body = excluded.body,
    loaded_at = excluded.loaded_at
WHERE NOT webhook_events.signed AND excluded.signed;

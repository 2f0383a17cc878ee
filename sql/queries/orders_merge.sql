-- Merge the readable rows into orders: an order's row from a newer export replaces the one
-- from an older export, never the other way round.
INSERT INTO orders AS o
    (order_id, amount, amount_text, currency, status, shop_status, created_at, link_id,
     payment_method, import_id, exported_at, source_line)
SELECT order_id, amount_value, amount_text, currency, mapped_status, shop_status,
       created_value, link_id, payment_method, $import_id, $exported_at, line
FROM orders_parsed
WHERE bad_field IS NULL AND NOT filtered_out
ON CONFLICT (order_id) DO UPDATE SET
    amount = excluded.amount,
    amount_text = excluded.amount_text,
    currency = excluded.currency,
    status = excluded.status,
    shop_status = excluded.shop_status,
    created_at = excluded.created_at,
    link_id = excluded.link_id,
    payment_method = excluded.payment_method,
    import_id = excluded.import_id,
    exported_at = excluded.exported_at,
    source_line = excluded.source_line
WHERE excluded.exported_at >= o.exported_at;

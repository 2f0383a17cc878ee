-- The second half of the merge (after orders_replace): the export's readable rows for ids the
-- table does not hold go in. An id still held has a row from a newer export, which stays.
-- Parameters: $account, $import_id, $exported_at.
INSERT INTO orders
    (account, order_id, amount, amount_text, currency, status, shop_status, created_at, link_id,
     payment_method, import_id, exported_at, source_line)
SELECT $account, order_id, amount_value, amount_text, currency, mapped_status, shop_status,
       created_value, link_id, payment_method, $import_id, $exported_at, line
FROM orders_parsed AS p
WHERE bad_field IS NULL AND NOT filtered_out
  AND NOT EXISTS (SELECT 1 FROM orders AS o
                  WHERE o.account = $account AND o.order_id = p.order_id);

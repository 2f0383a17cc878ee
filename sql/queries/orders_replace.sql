-- The first half of the merge: the rows of orders this export replaces (an order's row from
-- a newer export replaces the one from an older export, never the other way round) go.
-- Parameters: $account, $exported_at.
DELETE FROM orders AS o
USING orders_parsed AS p
WHERE o.account = $account AND p.order_id = o.order_id AND p.bad_field IS NULL
  AND NOT p.filtered_out
  AND $exported_at >= o.exported_at;

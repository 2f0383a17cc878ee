-- Outside line-item mode an order id may appear once: every row of a repeated id is rejected,
-- also when another of its rows is rejected for a reason of its own (which of them is the
-- order is in doubt either way).
UPDATE orders_parsed AS p
SET bad_field = 'order_id',
    reason = 'the order id is on more than one row (lines ' || d.lines
             || '); only a line-item export (line_items = true) may repeat it'
FROM (
    SELECT order_id, string_agg(CAST(line AS VARCHAR), ', ' ORDER BY line) AS lines
    FROM orders_parsed
    WHERE NOT filtered_out AND order_id IN (
        -- the repeated ids first: listing lines for every id costs ten times as much
        SELECT order_id FROM orders_parsed WHERE NOT filtered_out AND order_id <> ''
        GROUP BY order_id HAVING count(*) > 1)
    GROUP BY order_id
) AS d
WHERE p.order_id = d.order_id AND p.bad_field IS NULL;

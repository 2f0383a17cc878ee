-- Which order each link belongs to, by the most trusted evidence:
-- 1 the order's own link-id column, 2 the creation ledger, 3 the description pattern.
-- Links, orders and the ledger of one account only. Parameters: $account, $description_regex
-- (group 1 captures the order id).
-- Each match carries the link's and the order's rowid besides their ids: reconcile_findings
-- joins and groups on those integers, faster than on text. They hold for the transaction
-- these statements share (reconcile.reconcile), in which no link or order is deleted.
CREATE OR REPLACE TEMP TABLE link_matches AS
WITH candidates AS (
    SELECT l.id AS link_id, l.rowid AS link_row, o.order_id, o.rowid AS order_row, 1 AS trust,
           'link_id_column' AS method
    FROM orders AS o
    JOIN payment_links AS l ON l.account = $account AND l.id = o.link_id
    WHERE o.account = $account
    UNION ALL
    SELECT l.id, l.rowid, o.order_id, o.rowid, 2, 'creation_ledger'
    FROM link_requests AS r
    JOIN orders AS o ON o.account = $account AND o.order_id = r.order_id
    JOIN payment_links AS l ON l.account = $account AND l.id = r.link_id
    WHERE r.account = $account
    UNION ALL
    SELECT l.id, l.rowid, o.order_id, o.rowid, 3, 'description'
    FROM payment_links AS l
    JOIN orders AS o ON o.account = $account
                    AND o.order_id = regexp_extract(l.description, $description_regex, 1)
    WHERE l.account = $account AND l.description IS NOT NULL
)
SELECT link_id, link_row, order_id, order_row, method
FROM candidates
QUALIFY row_number() OVER (PARTITION BY link_row ORDER BY trust, order_id) = 1;

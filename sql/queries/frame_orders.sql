-- The shop's orders of the accounts $accounts, every column, for pik_recon.api (read-only).
SELECT *
FROM orders
WHERE list_contains($accounts, account)
ORDER BY account, created_at, order_id;

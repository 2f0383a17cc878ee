-- The payment links of the accounts $accounts, every column, for pik_recon.api (read-only).
SELECT *
FROM payment_links
WHERE list_contains($accounts, account)
ORDER BY account, created_at, id;

-- PIK's transactions of the accounts $accounts, every column, for pik_recon.api (read-only).
SELECT *
FROM transactions
WHERE list_contains($accounts, account)
ORDER BY account, created_at, id;

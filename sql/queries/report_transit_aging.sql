-- Money in transit (confirmed, not yet settled) of the transactions confirmed in the period,
-- per account of the report and currency, by its age in whole days at $until since it was
-- confirmed.
-- Staged: aging_buckets(position, label, low, high). Parameters: $accounts, $since, $until.
SELECT t.account, t.currency, b.position, b.label, count(*) AS n, exact_sum(t.amount) AS amount
FROM transactions AS t
JOIN aging_buckets AS b
  ON date_diff('day', t.confirmed_at, $until) BETWEEN b.low AND b.high
WHERE list_contains($accounts, t.account) AND t.vanished_at IS NULL
  AND t.status = 'confirmed' AND t.confirmed_at >= $since AND t.confirmed_at < $until
GROUP BY t.account, t.currency, b.position, b.label
ORDER BY t.account, t.currency, b.position;

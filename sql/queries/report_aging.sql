-- Unpaid (awaiting payment) orders of the period, per account of the report, by age in whole
-- days at $until.
-- Staged: aging_buckets(position, label, low, high). Parameters: $accounts, $since, $until.
SELECT o.account, o.currency, b.position, b.label, count(*) AS n, exact_sum(o.amount) AS amount
FROM orders AS o
JOIN aging_buckets AS b
  ON date_diff('day', o.created_at, $until) BETWEEN b.low AND b.high
WHERE list_contains($accounts, o.account) AND o.status = 'awaiting_payment'
  AND o.created_at >= $since AND o.created_at < $until
GROUP BY o.account, o.currency, b.position, b.label
ORDER BY o.account, o.currency, b.position;

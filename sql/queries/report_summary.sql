-- Per account and currency: for the period, invoiced (orders awaiting payment or paid),
-- collected (links paid in the period), outstanding (orders awaiting payment) and
-- expired/lost (expired_unpaid findings on the period's orders); and, like the money at
-- stake, whatever the period, discrepancies: every critical finding of the account's latest
-- run with the money it puts at stake, in that money's currency. Each a count and an exact
-- sum.
-- Staged: report_findings, report_runs(account, run_id, prev_run_id).
-- Parameters: $accounts (in report order), $since, $until.
WITH period_orders AS (
    SELECT * FROM orders
    WHERE list_contains($accounts, account) AND created_at >= $since AND created_at < $until
),
invoiced AS (
    SELECT account, currency, count(*) AS n, sum(amount) AS amount FROM period_orders
    WHERE status IN ('awaiting_payment', 'paid') GROUP BY account, currency
),
collected AS (
    SELECT account, currency, count(*) AS n, sum(amount) AS amount FROM payment_links
    WHERE list_contains($accounts, account) AND status = 'paid'
      AND paid_at >= $since AND paid_at < $until
    GROUP BY account, currency
),
outstanding AS (
    SELECT account, currency, count(*) AS n, sum(amount) AS amount FROM period_orders
    WHERE status = 'awaiting_payment' GROUP BY account, currency
),
lost AS (
    SELECT account, order_currency AS currency, count(*) AS n, sum(order_amount) AS amount
    FROM report_findings WHERE category = 'expired_unpaid' AND in_period GROUP BY 1, 2
),
discrepancies AS (
    SELECT f.account, f.at_stake_currency AS currency, count(*) AS n,
           coalesce(sum(f.at_stake), 0) AS amount
    FROM findings AS f
    JOIN report_runs AS r ON r.run_id = f.run_id
    WHERE f.severity = 'critical' AND f.at_stake_currency IS NOT NULL
    GROUP BY 1, 2
),
keys AS (
    SELECT account, currency FROM invoiced UNION SELECT account, currency FROM collected
    UNION SELECT account, currency FROM outstanding UNION SELECT account, currency FROM lost
    UNION SELECT account, currency FROM discrepancies
)
SELECT
    k.account, k.currency,
    coalesce(i.n, 0), coalesce(i.amount, 0),
    coalesce(co.n, 0), coalesce(co.amount, 0),
    coalesce(o.n, 0), coalesce(o.amount, 0),
    coalesce(l.n, 0), coalesce(l.amount, 0),
    coalesce(d.n, 0), coalesce(d.amount, 0)
FROM keys AS k
LEFT JOIN invoiced AS i USING (account, currency)
LEFT JOIN collected AS co USING (account, currency)
LEFT JOIN outstanding AS o USING (account, currency)
LEFT JOIN lost AS l USING (account, currency)
LEFT JOIN discrepancies AS d USING (account, currency)
ORDER BY array_position($accounts, k.account), k.currency;

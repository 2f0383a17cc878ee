-- Per account and currency: for the period, invoiced (orders awaiting payment or paid),
-- collected (links paid in the period), outstanding (orders awaiting payment) and
-- expired/lost (expired_unpaid findings on the period's orders); and, like the money at
-- stake, whatever the period, discrepancies: every critical finding of the account's latest
-- run with the money it puts at stake, in that money's currency. Each a count and an exact
-- sum (exact_sum: text, read as a Decimal). Then the money received (SPEC §6): of the transactions confirmed in the period (by
-- confirmed_at), those confirmed or settled (received), those settled since (settled) and
-- those not yet (in transit), in their own currency; and the underpaid and overpaid findings
-- of the account's latest run about the period, with their shortfall and excess.
-- Staged: report_findings, report_runs(account, run_id, prev_run_id).
-- Parameters: $accounts (in report order), $since, $until.
WITH period_orders AS (
    SELECT * FROM orders
    WHERE list_contains($accounts, account) AND created_at >= $since AND created_at < $until
),
invoiced AS (
    SELECT account, currency, count(*) AS n, exact_sum(amount) AS amount FROM period_orders
    WHERE status IN ('awaiting_payment', 'paid') GROUP BY account, currency
),
collected AS (
    SELECT account, currency, count(*) AS n, exact_sum(amount) AS amount FROM payment_links
    WHERE list_contains($accounts, account) AND status = 'paid'
      AND paid_at >= $since AND paid_at < $until
    GROUP BY account, currency
),
outstanding AS (
    SELECT account, currency, count(*) AS n, exact_sum(amount) AS amount FROM period_orders
    WHERE status = 'awaiting_payment' GROUP BY account, currency
),
lost AS (
    SELECT account, order_currency AS currency, count(*) AS n, exact_sum(order_amount) AS amount
    FROM report_findings WHERE category = 'expired_unpaid' AND in_period GROUP BY 1, 2
),
discrepancies AS (
    SELECT f.account, f.at_stake_currency AS currency, count(*) AS n,
           coalesce(exact_sum(f.at_stake), '0') AS amount
    FROM findings AS f
    JOIN report_runs AS r ON r.run_id = f.run_id
    WHERE f.severity = 'critical' AND f.at_stake_currency IS NOT NULL
    GROUP BY 1, 2
),
period_money AS (
    SELECT * FROM transactions
    WHERE list_contains($accounts, account) AND vanished_at IS NULL
      AND status IN ('confirmed', 'settled')
      AND confirmed_at >= $since AND confirmed_at < $until
),
received AS (
    SELECT account, currency, count(*) AS n, exact_sum(amount) AS amount,
           count(*) FILTER (WHERE status = 'settled') AS settled_n,
           coalesce(exact_sum(CASE WHEN status = 'settled' THEN amount END), '0')
               AS settled_amount,
           count(*) FILTER (WHERE status = 'confirmed') AS transit_n,
           coalesce(exact_sum(CASE WHEN status = 'confirmed' THEN amount END), '0')
               AS transit_amount
    FROM period_money GROUP BY account, currency
),
misses AS (
    SELECT account, at_stake_currency AS currency,
           count(*) FILTER (WHERE category = 'underpaid') AS under_n,
           coalesce(exact_sum(CASE WHEN category = 'underpaid' THEN at_stake END), '0')
               AS under_amount,
           count(*) FILTER (WHERE category = 'overpaid') AS over_n,
           coalesce(exact_sum(CASE WHEN category = 'overpaid' THEN at_stake END), '0')
               AS over_amount
    FROM report_findings WHERE category IN ('underpaid', 'overpaid') AND in_period
    GROUP BY 1, 2
),
keys AS (
    SELECT account, currency FROM invoiced UNION SELECT account, currency FROM collected
    UNION SELECT account, currency FROM outstanding UNION SELECT account, currency FROM lost
    UNION SELECT account, currency FROM discrepancies
    UNION SELECT account, currency FROM received UNION SELECT account, currency FROM misses
)
SELECT
    k.account, k.currency,
    coalesce(i.n, 0), coalesce(i.amount, '0'),
    coalesce(co.n, 0), coalesce(co.amount, '0'),
    coalesce(o.n, 0), coalesce(o.amount, '0'),
    coalesce(l.n, 0), coalesce(l.amount, '0'),
    coalesce(d.n, 0), coalesce(d.amount, '0'),
    coalesce(r.n, 0), coalesce(r.amount, '0'),
    coalesce(r.settled_n, 0), coalesce(r.settled_amount, '0'),
    coalesce(r.transit_n, 0), coalesce(r.transit_amount, '0'),
    coalesce(m.under_n, 0), coalesce(m.under_amount, '0'),
    coalesce(m.over_n, 0), coalesce(m.over_amount, '0')
FROM keys AS k
LEFT JOIN invoiced AS i USING (account, currency)
LEFT JOIN collected AS co USING (account, currency)
LEFT JOIN outstanding AS o USING (account, currency)
LEFT JOIN lost AS l USING (account, currency)
LEFT JOIN discrepancies AS d USING (account, currency)
LEFT JOIN received AS r USING (account, currency)
LEFT JOIN misses AS m USING (account, currency)
ORDER BY array_position($accounts, k.account), k.currency;

-- Per currency, for the period: invoiced (orders awaiting payment or paid), collected (links
-- paid in the period), outstanding (orders awaiting payment), expired/lost (expired_unpaid
-- findings) and discrepancies (critical findings), each as a count and an exact sum.
-- Staged: report_findings. Parameters: $since, $until.
WITH period_orders AS (
    SELECT * FROM orders WHERE created_at >= $since AND created_at < $until
),
invoiced AS (
    SELECT currency, count(*) AS n, sum(amount) AS amount FROM period_orders
    WHERE status IN ('awaiting_payment', 'paid') GROUP BY currency
),
collected AS (
    SELECT currency, count(*) AS n, sum(amount) AS amount FROM payment_links
    WHERE status = 'paid' AND paid_at >= $since AND paid_at < $until GROUP BY currency
),
outstanding AS (
    SELECT currency, count(*) AS n, sum(amount) AS amount FROM period_orders
    WHERE status = 'awaiting_payment' GROUP BY currency
),
lost AS (
    SELECT order_currency AS currency, count(*) AS n, sum(order_amount) AS amount
    FROM report_findings WHERE category = 'expired_unpaid' GROUP BY 1
),
discrepancies AS (
    SELECT coalesce(order_currency, link_currency) AS currency, count(*) AS n,
           sum(coalesce(abs(difference), link_amount, order_amount)) AS amount
    FROM report_findings WHERE severity = 'critical' GROUP BY 1
),
currencies AS (
    SELECT currency FROM invoiced UNION SELECT currency FROM collected
    UNION SELECT currency FROM outstanding UNION SELECT currency FROM lost
    UNION SELECT currency FROM discrepancies
)
SELECT
    c.currency,
    coalesce(i.n, 0), coalesce(i.amount, 0),
    coalesce(co.n, 0), coalesce(co.amount, 0),
    coalesce(o.n, 0), coalesce(o.amount, 0),
    coalesce(l.n, 0), coalesce(l.amount, 0),
    coalesce(d.n, 0), coalesce(d.amount, 0)
FROM currencies AS c
LEFT JOIN invoiced AS i USING (currency)
LEFT JOIN collected AS co USING (currency)
LEFT JOIN outstanding AS o USING (currency)
LEFT JOIN lost AS l USING (currency)
LEFT JOIN discrepancies AS d USING (currency)
ORDER BY c.currency;

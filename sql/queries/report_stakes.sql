-- Per currency, the open critical and warning findings of the period and the money in them:
-- the difference of an amount mismatch, else the paid link's amount, else the order's.
-- Staged: report_findings.
SELECT coalesce(order_currency, link_currency) AS currency,
       count(*) FILTER (WHERE severity = 'critical'),
       count(*) FILTER (WHERE severity = 'warning'),
       sum(coalesce(abs(difference), CASE WHEN link_status = 'paid' THEN link_amount END,
                    order_amount, link_amount))
FROM report_findings
WHERE severity IN ('critical', 'warning') AND NOT acknowledged
  AND coalesce(order_currency, link_currency) IS NOT NULL  -- order_rejected: no money
GROUP BY 1
ORDER BY 1;

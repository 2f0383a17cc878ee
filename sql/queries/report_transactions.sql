-- Each transaction of the findings a report lists (report_findings) that name some: one row
-- per finding and transaction, in report order, so that a link paid several times shows
-- every payment.
-- Staged: report_findings. Parameter: $listed, the transactions of the first $listed findings
-- in report order (all when NULL).
SELECT f.account, f.finding_key, f.category, f.link_id, t.id, t.status, t.amount, t.currency,
       t.created_at, t.confirmed_at, t.settled_at, t.tx_hash
FROM (SELECT *, unnest(string_split(transaction_ids, ';')) AS transaction_id
      FROM report_findings
      WHERE transaction_ids IS NOT NULL AND ($listed IS NULL OR report_rank <= $listed)
     ) AS f
JOIN transactions AS t ON t.account = f.account AND t.id = f.transaction_id
ORDER BY f.report_rank, t.created_at, t.id;

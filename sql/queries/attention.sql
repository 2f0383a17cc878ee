-- What needs attention: the open findings of each account's last finished reconciliation
-- (those acknowledged while they said what they say now are not open), whatever period a
-- report covers; per account, category, severity and currency of the money at stake: how
-- many, how many its previous run did not have (same category, order and link), the money,
-- and how many whose money is not known (a currency but no amount: runs from before
-- migration 012). A finding about no money has no currency.
-- Staged: latest_acks (latest_acks.sql) and the macro attention_sum(amount): text of the
-- exact sum (attention.py). Parameters: $accounts.
WITH ranked AS (
    SELECT account, id, row_number() OVER (PARTITION BY account ORDER BY id DESC) AS n
    FROM reconcile_runs
    WHERE state = 'finished' AND list_contains($accounts, account)
),
runs AS (
    SELECT account, max(id) FILTER (WHERE n = 1) AS run_id,
           max(id) FILTER (WHERE n = 2) AS previous_id
    FROM ranked WHERE n <= 2 GROUP BY account
),
open_findings AS (
    SELECT f.account, f.category, f.severity, f.at_stake, f.at_stake_currency,
           NOT EXISTS (
               SELECT 1 FROM findings AS p
               WHERE p.run_id = r.previous_id AND p.category = f.category
                 AND p.order_id IS NOT DISTINCT FROM f.order_id
                 AND p.link_id IS NOT DISTINCT FROM f.link_id
           ) AS is_new
    FROM findings AS f
    JOIN runs AS r ON r.run_id = f.run_id
    LEFT JOIN latest_acks AS a ON a.account = f.account AND a.finding_key = f.finding_key
    WHERE NOT is_acknowledged(a.reopened_at, a.state_digest, f.state_digest)
)
SELECT account, category, severity, at_stake_currency, count(*) AS findings,
       count(*) FILTER (WHERE is_new) AS new, attention_sum(at_stake) AS amount,
       count(*) FILTER (WHERE at_stake IS NULL AND at_stake_currency IS NOT NULL) AS unpriced
FROM open_findings
GROUP BY account, category, severity, at_stake_currency
ORDER BY account, category, at_stake_currency NULLS LAST;

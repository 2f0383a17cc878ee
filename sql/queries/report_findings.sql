-- The findings a report lists, of each account's latest run (report_runs): those of the
-- period (`in_period`: the order, or for orphans the link, was created in it, or for a link
-- the warehouse does not hold, its first transaction; a rejected row
-- of the orders export, order_rejected, which has no creation time, is in every period) and
-- every open critical or warning finding, whatever its date, so that every finding the
-- headline counts is listed. Each is marked new when that account's previous run did not
-- have it (same key: category, order and link), and acknowledged when the latest
-- acknowledgement of its key was not reopened and was made when the finding said what it
-- says now. `report_rank` is each finding's place in report order: open first, then by
-- severity and category ($severities, $categories, each in that order), account, order,
-- link and key (which tells apart the rejected rows without an order id); every file lists
-- the findings by it.
-- Staged: latest_acks (latest_acks.sql), report_runs(account, run_id, prev_run_id).
-- Parameters: $since, $until, $severities, $categories.
CREATE OR REPLACE TEMP TABLE report_findings AS
WITH scoped AS (
    SELECT f.*, r.prev_run_id,
           coalesce(o.created_at, l.created_at, t.created_at) AS subject_created_at,
           o.created_at AS order_created_at, p.paid_at AS link_paid_at
    FROM findings AS f
    JOIN report_runs AS r ON r.run_id = f.run_id
    LEFT JOIN orders AS o ON o.account = f.account AND o.order_id = f.order_id
       AND f.category <> 'order_rejected'  -- a row, not the order an earlier export held
    LEFT JOIN payment_links AS l
        ON f.order_id IS NULL AND l.account = f.account AND l.id = f.link_id
    LEFT JOIN payment_links AS p ON p.account = f.account AND p.id = f.link_id
    LEFT JOIN transactions AS t
        ON f.category = 'transaction_unknown_link' AND t.account = f.account
       AND t.id = split_part(f.transaction_ids, ';', 1)
)
, listed AS (
SELECT
    s.* EXCLUDE (prev_run_id),
    NOT EXISTS (
        SELECT 1 FROM findings AS p
        WHERE p.run_id = s.prev_run_id AND p.finding_key = s.finding_key
    ) AS is_new,
    is_acknowledged(a.reopened_at, a.state_digest, s.state_digest) AS acknowledged,
    a.note AS ack_note, a.acknowledged_by AS ack_by, a.acknowledged_at AS ack_at,
    is_outdated(a.reopened_at, a.state_digest, s.state_digest) AS ack_outdated,
    s.category = 'order_rejected'
        OR coalesce(s.subject_created_at >= $since AND s.subject_created_at < $until, false)
        AS in_period
FROM scoped AS s
LEFT JOIN latest_acks AS a ON a.account = s.account AND a.finding_key = s.finding_key
WHERE s.category = 'order_rejected'
   OR (s.subject_created_at >= $since AND s.subject_created_at < $until)
   OR (s.severity IN ('critical', 'warning')
       AND NOT is_acknowledged(a.reopened_at, a.state_digest, s.state_digest))
)
SELECT *, row_number() OVER (ORDER BY acknowledged, array_position($severities, severity),
                                      array_position($categories, category), account,
                                      order_id NULLS LAST, link_id, finding_key) AS report_rank
FROM listed;

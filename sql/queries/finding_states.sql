-- The findings of the runs $run_ids, each with its state: acknowledged when the latest
-- acknowledgement of its key was not reopened and was made when the finding said what it
-- says now; open otherwise (`outdated`: acknowledged once, changed since).
-- Staged: latest_acks (latest_acks.sql). Parameters: $run_ids, $severities and $categories
-- (each in report order).
SELECT f.account, f.finding_key, f.category, f.severity, f.order_id, f.link_id, f.order_amount,
       f.order_currency, f.link_amount, f.link_currency, f.difference, f.age_days,
       f.state_digest,
       is_acknowledged(a.reopened_at, a.state_digest, f.state_digest)
           AS acknowledged,
       a.note, a.acknowledged_by, a.acknowledged_at,
       is_outdated(a.reopened_at, a.state_digest, f.state_digest) AS outdated,
       f.description, f.received_amount, f.transaction_ids
FROM findings AS f
LEFT JOIN latest_acks AS a ON a.account = f.account AND a.finding_key = f.finding_key
WHERE list_contains($run_ids, f.run_id)
ORDER BY acknowledged, array_position($severities, f.severity),
         array_position($categories, f.category), f.account, f.order_id NULLS LAST,
         f.link_id;

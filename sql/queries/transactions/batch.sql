-- The staged transactions, one row per account and id (the furthest status on the way
-- pending -> confirmed -> settled or failed, since none goes back; otherwise the latest
-- sighting), beside what the warehouse holds for that transaction. `keeps_held`: the
-- warehouse holds it further on than this batch saw it (a stale sighting).
CREATE OR REPLACE TEMP TABLE record_batch AS
WITH stage AS (
    SELECT *, CASE status WHEN 'pending' THEN 0 WHEN 'confirmed' THEN 1 ELSE 2 END AS step
    FROM record_stage WHERE fast
), repeated AS (
    -- most transactions appear once in a batch and pass as they are; only repeated ones are
    -- ranked
    SELECT account, id FROM stage GROUP BY account, id HAVING count(*) > 1
), sightings AS (
    SELECT * FROM stage ANTI JOIN repeated USING (account, id)
    UNION ALL BY NAME
    (SELECT * FROM stage SEMI JOIN repeated USING (account, id)
     QUALIFY row_number() OVER (PARTITION BY account, id
                                ORDER BY step DESC, n DESC, i DESC) = 1)
)
SELECT s.account, s.run_id, s.id, s.payment_link_id, s.amount_text, s.currency, s.status,
       s.tx_hash, s.created_at, s.confirmed_at, s.settled_at, t.status AS old_status,
       t.id IS NOT NULL AS known,
       coalesce(CASE t.status WHEN 'pending' THEN 0 WHEN 'confirmed' THEN 1 ELSE 2 END > s.step,
                false) AS keeps_held
FROM sightings AS s
LEFT JOIN transactions AS t ON t.account = s.account AND t.id = s.id;

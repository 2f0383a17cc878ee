-- The staged links, one row per account and id (a final status beats active, since it cannot
-- be undone; otherwise the latest sighting), beside what the warehouse holds for that link.
-- `keeps_held`: the warehouse holds it final and this batch saw it active (a stale sighting).
CREATE OR REPLACE TEMP TABLE record_batch AS
WITH stage AS (
    SELECT * FROM record_stage WHERE fast
), repeated AS (
    -- most links appear once in a batch and pass as they are; only repeated ones are ranked
    SELECT account, id FROM stage GROUP BY account, id HAVING count(*) > 1
), sightings AS (
    SELECT * FROM stage ANTI JOIN repeated USING (account, id)
    UNION ALL BY NAME
    (SELECT * FROM stage SEMI JOIN repeated USING (account, id)
     QUALIFY row_number() OVER (PARTITION BY account, id
                                ORDER BY status <> 'active' DESC, n DESC, i DESC) = 1)
)
SELECT s.account, s.run_id, s.id, s.url, s.amount_text, s.currency, s.description, s.status,
       s.created_at, s.paid_at, p.status AS old_status, p.id IS NOT NULL AS known,
       coalesce(p.status IN ('paid', 'expired', 'deactivated') AND s.status = 'active',
                false) AS keeps_held
FROM sightings AS s
LEFT JOIN payment_links AS p ON p.account = s.account AND p.id = s.id;

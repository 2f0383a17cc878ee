-- The staged batch, one row per id (a final status beats active, since it cannot be undone;
-- otherwise the latest sighting), beside what the warehouse holds for that id in $account.
CREATE OR REPLACE TEMP TABLE link_batch AS
SELECT s.id, s.url, s.amount_text, s.currency, s.description, s.status, s.created_at,
       s.paid_at, p.status AS old_status, p.id IS NOT NULL AS known,
       coalesce(p.status IN ('paid', 'expired', 'deactivated') AND s.status = 'active',
                false) AS keeps_final
FROM (
    -- most ids appear once in a batch and pass as they are; only repeated ids are ranked
    WITH repeated AS (SELECT id FROM link_stage WHERE fast GROUP BY id HAVING count(*) > 1)
    SELECT * FROM link_stage WHERE fast AND id NOT IN (SELECT id FROM repeated)
    UNION ALL
    (SELECT * FROM link_stage WHERE fast AND id IN (SELECT id FROM repeated)
     QUALIFY row_number() OVER (PARTITION BY id ORDER BY status <> 'active' DESC, n DESC,
                                                          i DESC) = 1)
) AS s
LEFT JOIN payment_links AS p ON p.account = $account AND p.id = s.id;

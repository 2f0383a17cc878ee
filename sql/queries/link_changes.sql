-- New and changed links in a staged batch, before it is merged.
-- A final status (paid, expired, deactivated) never goes back to active.
SELECT
    count(*) FILTER (WHERE p.id IS NULL) AS new_links,
    count(*) FILTER (
        WHERE p.id IS NOT NULL AND p.status <> b.status
          AND NOT (p.status IN ('paid', 'expired', 'deactivated') AND b.status = 'active')
    ) AS changed_links
FROM link_batch AS b
LEFT JOIN payment_links AS p ON p.id = b.id;

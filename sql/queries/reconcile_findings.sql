-- One finding per order at most (the first category of SPEC §6 that applies), and one per
-- link that matches no order. Staged: link_matches, currency_groups(currency, grp),
-- tolerances(currency, tolerance). Parameters: $run_id, $as_of, $unpaid_after_days.
INSERT INTO findings
WITH per_link AS (
    SELECT
        o.order_id, o.amount AS order_amount, o.currency AS order_currency,
        o.status AS order_status, o.created_at AS order_created_at,
        l.id AS link_id, l.status AS link_status, l.amount AS link_amount,
        l.currency AS link_currency, l.description, m.method,
        coalesce(gl.grp, l.currency) = coalesce(gor.grp, o.currency) AS same_currency,
        abs(l.amount - o.amount) <= coalesce(t.tolerance, 0) AS amount_ok
    FROM orders AS o
    LEFT JOIN link_matches AS m ON m.order_id = o.order_id
    LEFT JOIN payment_links AS l ON l.id = m.link_id
    LEFT JOIN currency_groups AS gl ON gl.currency = upper(l.currency)
    LEFT JOIN currency_groups AS gor ON gor.currency = upper(o.currency)
    LEFT JOIN tolerances AS t ON t.currency = upper(o.currency)
),
per_order AS (
    SELECT
        order_id,
        any_value(order_amount) AS order_amount,
        any_value(order_currency) AS order_currency,
        any_value(order_status) AS order_status,
        any_value(order_created_at) AS order_created_at,
        count(link_id) AS links,
        count(*) FILTER (WHERE link_status = 'paid') AS paid,
        count(*) FILTER (WHERE link_status = 'active') AS active,
        arg_min(link_id, link_id) FILTER (WHERE link_status = 'paid' AND NOT same_currency)
            AS wrong_currency_link,
        arg_min(link_id, link_id)
            FILTER (WHERE link_status = 'paid' AND same_currency AND NOT amount_ok)
            AS wrong_amount_link,
        arg_min(link_id, link_id) FILTER (WHERE link_status = 'paid') AS paid_link,
        arg_min(link_id, link_id) FILTER (WHERE link_status = 'active') AS active_link,
        arg_min(link_id, link_id) AS any_link,
        string_agg(link_id, ';' ORDER BY link_id) AS link_ids
    FROM per_link
    GROUP BY order_id
),
categorised AS (
    SELECT
        *,
        CASE
            WHEN wrong_currency_link IS NOT NULL THEN 'currency_mismatch'
            WHEN wrong_amount_link IS NOT NULL THEN 'amount_mismatch'
            WHEN paid > 1 THEN 'duplicate_payment'
            WHEN paid > 0 AND order_status IN ('cancelled', 'refunded') THEN 'paid_but_cancelled'
            WHEN paid = 0 AND order_status = 'paid' THEN 'paid_without_payment'
            WHEN paid > 0 AND order_status = 'awaiting_payment' THEN 'paid_order_not_updated'
            WHEN order_status = 'awaiting_payment' AND links > 0 AND active = 0
                THEN 'expired_unpaid'
            WHEN order_status = 'awaiting_payment' AND links = 0 THEN 'missing_link'
            WHEN order_status = 'awaiting_payment' AND active > 0
                 AND date_diff('day', order_created_at, $as_of) >= $unpaid_after_days
                THEN 'unpaid'
        END AS category,
        coalesce(wrong_currency_link, wrong_amount_link, paid_link, active_link, any_link)
            AS subject_link
    FROM per_order
),
order_findings AS (
    SELECT
        c.category, c.order_id, c.subject_link AS link_id, c.link_ids, c.order_amount,
        c.order_currency, l.amount AS link_amount, l.currency AS link_currency,
        CASE WHEN l.status = 'paid' AND c.category <> 'currency_mismatch'
             THEN l.amount - c.order_amount END AS difference,
        c.order_status, l.status AS link_status,
        date_diff('day', c.order_created_at, $as_of) AS age_days,
        m.method, l.description
    FROM categorised AS c
    LEFT JOIN payment_links AS l ON l.id = c.subject_link
    LEFT JOIN link_matches AS m ON m.link_id = c.subject_link
    WHERE c.category IS NOT NULL
),
orphan_findings AS (
    SELECT
        CASE WHEN l.status = 'paid' THEN 'orphan_paid_link' ELSE 'orphan_link' END,
        NULL, l.id, l.id, NULL, NULL, l.amount, l.currency, NULL, NULL, l.status,
        date_diff('day', l.created_at, $as_of), NULL, l.description
    FROM payment_links AS l
    ANTI JOIN link_matches AS m ON m.link_id = l.id
)
SELECT $run_id, f.category, s.severity, f.*
EXCLUDE (category)
FROM (SELECT * FROM order_findings UNION ALL SELECT * FROM orphan_findings) AS f
JOIN (VALUES
    ('currency_mismatch', 'critical'), ('amount_mismatch', 'critical'),
    ('duplicate_payment', 'critical'), ('paid_but_cancelled', 'critical'),
    ('paid_without_payment', 'critical'), ('paid_order_not_updated', 'warning'),
    ('expired_unpaid', 'warning'), ('missing_link', 'warning'), ('unpaid', 'info'),
    ('orphan_paid_link', 'critical'), ('orphan_link', 'info')
) AS s(category, severity) ON s.category = f.category;

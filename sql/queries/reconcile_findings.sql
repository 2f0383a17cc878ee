-- One finding per order at most (the first category that applies, in report order), one per
-- link that matches no order. Only orders with several links are grouped (by their row: ids
-- are unique in the table, and an integer key groups faster than text); an order with one
-- link or none gives the same values straight from its one row. Orders and links are joined
-- to link_matches by row too (order_row, link_row: reconcile_matches.sql).
-- Orders and links of one account. Staged: link_matches (of that account),
-- currency_groups(currency, grp), tolerances(currency, tolerance).
-- Each finding carries the money it puts at stake, in that money's currency.
-- Parameters: $account, $run_id, $as_of, $unpaid_after_days.
INSERT INTO findings (run_id, category, severity, order_id, link_id, link_ids, order_amount,
                      order_currency, link_amount, link_currency, difference, order_status,
                      link_status, age_days, match_method, description, at_stake,
                      at_stake_currency, finding_key, state_digest, account)
WITH shared AS (
    -- orders matched by more than one link; every other order has one row below
    SELECT order_row FROM link_matches GROUP BY order_row HAVING count(*) > 1
),
per_link AS (
    SELECT
        o.rowid AS order_row, o.order_id, o.amount AS order_amount, o.currency AS order_currency,
        o.status AS order_status, o.created_at AS order_created_at,
        l.id AS link_id, l.status AS link_status, l.amount AS link_amount,
        l.currency AS link_currency, l.paid_at AS link_paid_at, l.description, m.method,
        coalesce(gl.grp, l.currency) = coalesce(gor.grp, o.currency) AS same_currency,
        abs(l.amount - o.amount) <= coalesce(t.tolerance, 0) AS amount_ok,
        s.order_row IS NOT NULL AS several
    FROM orders AS o
    LEFT JOIN link_matches AS m ON m.order_row = o.rowid
    LEFT JOIN payment_links AS l ON l.account = $account AND l.rowid = m.link_row
    LEFT JOIN currency_groups AS gl ON gl.currency = upper(l.currency)
    LEFT JOIN currency_groups AS gor ON gor.currency = upper(o.currency)
    LEFT JOIN tolerances AS t ON t.currency = upper(o.currency)
    LEFT JOIN shared AS s ON s.order_row = o.rowid
    WHERE o.account = $account
),
linked AS (
    SELECT
        *,
        link_status = 'paid' AND NOT same_currency AS paid_wrong_currency,
        link_status = 'paid' AND same_currency AND NOT amount_ok AS paid_wrong_amount,
        CASE WHEN link_id IS NOT NULL THEN
            {'id': link_id, 'amount': link_amount, 'currency': link_currency,
             'status': link_status, 'method': method, 'description': description} END AS link
    FROM per_link
),
per_order AS (
    SELECT
        any_value(order_id) AS order_id,
        any_value(order_amount) AS order_amount,
        any_value(order_currency) AS order_currency,
        any_value(order_status) AS order_status,
        any_value(order_created_at) AS order_created_at,
        count(link_id) AS links,
        count(*) FILTER (WHERE link_status = 'paid') AS paid,
        count(*) FILTER (WHERE link_status = 'active') AS active,
        bool_or(paid_wrong_currency) AS wrong_currency,
        bool_or(paid_wrong_amount) AS wrong_amount,
        -- the link a finding is about: a wrong currency, then a wrong amount, then paid,
        -- then active, then any; the smallest id first within each
        arg_min(link, (CASE WHEN paid_wrong_currency THEN 1
                            WHEN paid_wrong_amount THEN 2
                            WHEN link_status = 'paid' THEN 3
                            WHEN link_status = 'active' THEN 4
                            ELSE 5 END, link_id)) FILTER (WHERE link_id IS NOT NULL) AS subject,
        array_to_string(list_sort(list(link_id) FILTER (WHERE link_id IS NOT NULL)), ';')
            AS link_ids,
        -- what the paid links beyond the first (the earliest paid) brought: owed back
        fitting_sum(CASE WHEN link_status = 'paid' AND NOT first_paid THEN link_amount END,
                    'the paid links of order ' || any_value(order_id) || ' beyond the first')
            AS paid_beyond_first
    FROM (SELECT
              *,
              link_status = 'paid' AND row_number() OVER (
                  PARTITION BY order_row, link_status = 'paid'
                  ORDER BY coalesce(link_paid_at, TIMESTAMPTZ 'infinity'), link_id) = 1
                  AS first_paid
          FROM linked
          WHERE several)
    GROUP BY order_row
    UNION ALL
    -- one link or none: the same values without grouping
    SELECT
        order_id, order_amount, order_currency, order_status, order_created_at,
        CASE WHEN link_id IS NULL THEN 0 ELSE 1 END,
        CASE WHEN link_status = 'paid' THEN 1 ELSE 0 END,
        CASE WHEN link_status = 'active' THEN 1 ELSE 0 END,
        paid_wrong_currency, paid_wrong_amount, link, link_id, NULL
    FROM linked
    WHERE NOT several
),
categorised AS (
    SELECT
        *,
        CASE
            WHEN wrong_currency THEN 'currency_mismatch'
            WHEN wrong_amount THEN 'amount_mismatch'
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
        END AS category
    FROM per_order
),
order_findings AS (
    SELECT
        category, order_id, subject.id AS link_id, link_ids, order_amount,
        order_currency, subject.amount AS link_amount, subject.currency AS link_currency,
        CASE WHEN subject.status = 'paid' AND category <> 'currency_mismatch'
             THEN subject.amount - order_amount END AS difference,
        order_status, subject.status AS link_status,
        date_diff('day', order_created_at, $as_of) AS age_days,
        subject.method, subject.description,
        CASE
            WHEN category = 'amount_mismatch' THEN abs(subject.amount - order_amount)
            WHEN category = 'duplicate_payment' THEN paid_beyond_first
            WHEN category IN ('currency_mismatch', 'paid_but_cancelled',
                              'paid_order_not_updated') THEN subject.amount
            ELSE order_amount
        END AS at_stake,
        CASE WHEN category IN ('currency_mismatch', 'duplicate_payment', 'paid_but_cancelled',
                               'paid_order_not_updated') THEN subject.currency
             ELSE order_currency END AS at_stake_currency
    FROM categorised
    WHERE category IS NOT NULL
),
orphan_findings AS (
    SELECT
        CASE WHEN l.status = 'paid' THEN 'orphan_paid_link' ELSE 'orphan_link' END,
        NULL, l.id, l.id, NULL, NULL, l.amount, l.currency, NULL, NULL, l.status,
        date_diff('day', l.created_at, $as_of), NULL, l.description, l.amount, l.currency
    FROM payment_links AS l
    ANTI JOIN link_matches AS m ON m.link_row = l.rowid
    WHERE l.account = $account
)
SELECT $run_id, f.category, s.severity, f.* EXCLUDE (category),
       -- the key across runs (the account in it unless `default`, whose keys predate
       -- accounts), and a digest of what the finding says (migrations 009, 010)
       left(md5(concat_ws('|', f.category, coalesce(f.order_id, ''),
                          coalesce(f.link_id, ''), nullif($account, 'default'))), 12),
       md5(concat_ws('|', coalesce(CAST(f.order_amount AS VARCHAR), ''),
                     coalesce(f.order_currency, ''), coalesce(CAST(f.link_amount AS VARCHAR), ''),
                     coalesce(f.link_currency, ''), coalesce(CAST(f.difference AS VARCHAR), ''),
                     coalesce(f.order_status, ''), coalesce(f.link_status, ''),
                     coalesce(f.link_ids, ''))),
       $account
FROM (SELECT * FROM order_findings UNION ALL SELECT * FROM orphan_findings) AS f
JOIN (VALUES
    ('currency_mismatch', 'critical'), ('amount_mismatch', 'critical'),
    ('duplicate_payment', 'critical'), ('paid_but_cancelled', 'critical'),
    ('paid_without_payment', 'critical'), ('paid_order_not_updated', 'warning'),
    ('expired_unpaid', 'warning'), ('missing_link', 'warning'), ('unpaid', 'info'),
    ('orphan_paid_link', 'critical'), ('orphan_link', 'info')
) AS s(category, severity) ON s.category = f.category
-- in order: the table then fills whole row groups, which a checkpoint keeps as they are,
-- instead of merging the partial ones each thread wrote (a rewrite of every finding)
ORDER BY f.category;

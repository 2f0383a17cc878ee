-- Three-way reconciliation (SPEC §6, money received): each link of the account against its
-- transactions, and the signed webhook events about them. A link gets at most one of these
-- categories (the first that applies), beside whatever finding its order has:
--   underpaid, overpaid, paid_without_transaction, payment_on_closed_link, unsettled,
--   transaction_unknown_link, webhook_missed, webhook_disagrees.
-- A link's received amount is the sum of its confirmed and settled transactions in its
-- currency (or an equivalent one); transactions PIK no longer has (vanished) are left out.
-- transaction_unknown_link counts only transactions first seen before the account's last
-- verified links sync started: that sync holds every link that existed then, and a link
-- exists before its payments. The webhook categories need $capture (the account's webhook
-- secret is set); only signed events count.
-- Staged: link_matches, currency_groups(currency, grp), tolerances(currency, tolerance),
-- and the macro link_sum(amount, what): DuckDB's sum(), or fitting_sum (money_macros.sql)
-- when a link's transactions may add up past 20 integer digits (reconcile.py).
-- Parameters: $run_id, $account, $as_of, $settlement_hours, $webhook_grace_hours, $capture,
-- $categories and $severities (the severity of each, in the same order).
INSERT INTO findings (run_id, account, category, severity, order_id, link_id, link_ids,
                      order_amount, order_currency, link_amount, link_currency, order_status,
                      link_status, age_days, match_method, description, received_amount,
                      transaction_ids, at_stake, at_stake_currency, finding_key, state_digest)
WITH known_before AS (
    SELECT max(started_at) AS moment FROM sync_runs
    WHERE account = $account AND resource = 'links' AND state = 'finished' AND verified
),
verdicts AS (
    -- per transaction: whether a signed event announced it, and whether one contradicts it
    -- (an event whose status is older than the transaction's agrees)
    SELECT
        e.transaction_id,
        bool_or(e.event_type IN ('payment.confirmed', 'payment.settled')) AS announced,
        bool_or(
            (e.amount_text IS NOT NULL AND e.amount IS DISTINCT FROM t.amount)
            OR (e.currency IS NOT NULL AND e.currency <> t.currency)
            OR (e.payment_link_id IS NOT NULL AND e.payment_link_id <> t.payment_link_id)
            OR (e.said <> t.status AND NOT coalesce(
                    list_position(['pending', 'confirmed', 'settled'], e.said)
                    < list_position(['pending', 'confirmed', 'settled'], t.status), false))
        ) AS contradicts
    FROM (SELECT *, coalesce(status, split_part(event_type, '.', 2)) AS said
          FROM webhook_events WHERE $capture AND account = $account AND signed) AS e
    JOIN transactions AS t
        ON t.account = $account AND t.id = e.transaction_id AND t.vanished_at IS NULL
    GROUP BY e.transaction_id
),
unknown_currency AS (
    -- a link the warehouse does not hold: its currency is its first transaction's
    SELECT t.payment_link_id, arg_min(t.currency, (t.created_at, t.id)) AS currency
    FROM transactions AS t
    ANTI JOIN payment_links AS l ON l.account = $account AND l.id = t.payment_link_id
    WHERE t.account = $account AND t.vanished_at IS NULL
    GROUP BY t.payment_link_id
),
tx AS MATERIALIZED (
    SELECT
        t.id, t.payment_link_id, t.amount, t.created_at,
        l.id IS NOT NULL AS known,
        coalesce(gt.grp, t.currency) = coalesce(gs.grp, l.currency, u.currency) AS in_currency,
        t.status IN ('confirmed', 'settled') AS money,
        t.status = 'confirmed'
            AND t.confirmed_at < $as_of - to_hours($settlement_hours) AS overdue,
        l.id IS NULL AND t.status <> 'failed'
            AND t.first_seen_at < (SELECT moment FROM known_before) AS unknown,
        $capture AND t.status IN ('confirmed', 'settled')
            AND coalesce(t.confirmed_at, t.created_at) < $as_of - to_hours($webhook_grace_hours)
            AND NOT coalesce(v.announced, false) AS missed,
        coalesce(v.contradicts, false) AS contradicts
    FROM transactions AS t
    LEFT JOIN payment_links AS l ON l.account = $account AND l.id = t.payment_link_id
    LEFT JOIN unknown_currency AS u ON l.id IS NULL AND u.payment_link_id = t.payment_link_id
    LEFT JOIN currency_groups AS gt ON gt.currency = upper(t.currency)
    LEFT JOIN currency_groups AS gs ON gs.currency = upper(coalesce(l.currency, u.currency))
    LEFT JOIN verdicts AS v ON v.transaction_id = t.id
    WHERE t.account = $account AND t.vanished_at IS NULL
),
per_link AS (
    SELECT
        payment_link_id AS link_id,
        any_value(known) AS known,
        count(*) FILTER (WHERE money AND in_currency) AS paying,
        coalesce(link_sum(CASE WHEN money AND in_currency THEN amount END,
                             'the transactions received on link ' || payment_link_id), 0)
            AS received,
        link_sum(CASE WHEN overdue AND in_currency THEN amount END,
                    'the unsettled transactions of link ' || payment_link_id) AS overdue,
        link_sum(CASE WHEN unknown AND in_currency THEN amount END,
                    'the transactions of unknown link ' || payment_link_id) AS unknown,
        link_sum(CASE WHEN missed AND in_currency THEN amount END,
                    'the transactions of link ' || payment_link_id || ' no webhook announced')
            AS missed,
        link_sum(CASE WHEN contradicts AND in_currency THEN amount END,
                    'the transactions of link ' || payment_link_id || ' a webhook contradicts')
            AS contradicted,
        min(created_at) AS first_created_at
    FROM tx
    GROUP BY payment_link_id
),
subjects AS (
    -- every link with transactions, and every paid link (it may have none), once the
    -- warehouse knows the account's money: it holds any of its transactions, or a sync
    -- proved PIK's list of them complete, empty as it may be (before, nothing is known)
    SELECT
        coalesce(l.id, p.link_id) AS link_id, l.amount, coalesce(l.currency, u.currency)
            AS currency, l.status, l.description, l.created_at, coalesce(p.known, true)
            AS known, coalesce(p.paying, 0) AS paying, coalesce(p.received, 0) AS received,
        p.overdue, p.unknown, p.missed, p.contradicted, p.first_created_at,
        coalesce(t.tolerance, 0) AS tolerance
    FROM (SELECT * FROM payment_links WHERE account = $account) AS l
    FULL JOIN per_link AS p ON p.link_id = l.id
    LEFT JOIN unknown_currency AS u ON l.id IS NULL AND u.payment_link_id = p.link_id
    LEFT JOIN tolerances AS t ON t.currency = upper(coalesce(l.currency, u.currency))
    WHERE p.link_id IS NOT NULL
       OR (l.status = 'paid'
           AND (EXISTS (SELECT 1 FROM transactions WHERE account = $account)
                OR EXISTS (SELECT 1 FROM sync_runs WHERE account = $account
                           AND resource = 'transactions' AND state = 'finished'
                           AND verified)))
),
categorised AS (
    SELECT
        *,
        CASE
            WHEN known AND paying > 0 AND amount - received > tolerance THEN 'underpaid'
            WHEN known AND received - amount > tolerance THEN 'overpaid'
            WHEN known AND status = 'paid' AND paying = 0 THEN 'paid_without_transaction'
            WHEN known AND paying > 0 AND status IN ('expired', 'deactivated')
                THEN 'payment_on_closed_link'
            WHEN overdue IS NOT NULL THEN 'unsettled'
            WHEN unknown IS NOT NULL THEN 'transaction_unknown_link'
            WHEN missed IS NOT NULL THEN 'webhook_missed'
            WHEN contradicted IS NOT NULL THEN 'webhook_disagrees'
        END AS category
    FROM subjects
),
found AS (
    SELECT
        *,
        CASE category
            WHEN 'underpaid' THEN amount - received
            WHEN 'overpaid' THEN received - amount
            WHEN 'paid_without_transaction' THEN amount
            WHEN 'payment_on_closed_link' THEN received
            WHEN 'unsettled' THEN overdue
            WHEN 'transaction_unknown_link' THEN unknown
            WHEN 'webhook_missed' THEN missed
            ELSE contradicted
        END AS at_stake
    FROM categorised
    WHERE category IS NOT NULL
),
concerned AS (
    -- the transactions each finding is about: those its money is summed from (of a link
    -- paid without money, its attempts, if any)
    SELECT f.link_id, string_agg(t.id, ';' ORDER BY t.created_at, t.id) AS transaction_ids
    FROM found AS f
    JOIN tx AS t ON t.payment_link_id = f.link_id
    WHERE t.in_currency AND CASE f.category
        WHEN 'paid_without_transaction' THEN true
        WHEN 'unsettled' THEN t.overdue
        WHEN 'transaction_unknown_link' THEN t.unknown
        WHEN 'webhook_missed' THEN t.missed
        WHEN 'webhook_disagrees' THEN t.contradicts
        ELSE t.money
    END
    GROUP BY f.link_id
),
rows AS (
    SELECT
        f.category, m.order_id, f.link_id, f.link_id AS link_ids, o.amount AS order_amount,
        o.currency AS order_currency, f.amount AS link_amount,
        f.currency AS link_currency, o.status AS order_status,
        f.status AS link_status,
        date_diff('day', coalesce(f.created_at, f.first_created_at), $as_of) AS age_days,
        m.method, f.description, f.received, c.transaction_ids, f.at_stake,
        f.currency AS at_stake_currency
    FROM found AS f
    LEFT JOIN concerned AS c ON c.link_id = f.link_id
    LEFT JOIN link_matches AS m ON m.link_id = f.link_id
    LEFT JOIN orders AS o ON o.account = $account AND o.order_id = m.order_id
)
SELECT
    $run_id, $account, r.category, s.severity, r.order_id, r.link_id, r.link_ids,
    r.order_amount, r.order_currency, r.link_amount, r.link_currency, r.order_status,
    r.link_status, r.age_days, r.method, r.description, r.received, r.transaction_ids,
    r.at_stake, r.at_stake_currency,
    -- the key and digest of every finding (reconcile_findings.sql); the digest also holds
    -- the money received and the transactions, so more money reopens an acknowledgement
    left(md5(concat_ws('|', r.category, coalesce(r.order_id, ''), r.link_id,
                       nullif($account, 'default'))), 12),
    md5(concat_ws('|', coalesce(CAST(r.order_amount AS VARCHAR), ''),
                  coalesce(r.order_currency, ''), coalesce(CAST(r.link_amount AS VARCHAR), ''),
                  coalesce(r.link_currency, ''), '', coalesce(r.order_status, ''),
                  coalesce(r.link_status, ''), r.link_ids, CAST(r.received AS VARCHAR),
                  coalesce(r.transaction_ids, '')))
FROM rows AS r
JOIN (SELECT unnest($categories) AS category, unnest($severities) AS severity) AS s
    ON s.category = r.category;

-- findings.csv: every finding the report lists (report_findings), in report order, a row
-- each; its columns are what finance edits and `findings ack --from` reads back (the
-- finding_id and note), so their names stay. An empty value is written as nothing (NULL).
-- The macros are report_csv_macros.sql's.
-- Staged: the macro csv_zone_offset(moment), the report zone's UTC offset in seconds at a
-- moment (csv_files.py). Parameters: $codes, $places.
SELECT
    account,
    finding_key AS finding_id,
    run_id,
    category,
    severity,
    CASE WHEN acknowledged THEN 'acknowledged'
         WHEN ack_outdated THEN 'open, changed since acknowledged' ELSE 'open' END AS state,
    nullif(csv_text(order_id), '') AS order_id,
    nullif(link_id, '') AS link_id,
    nullif(link_ids, '') AS link_ids,
    csv_exact(order_amount, csv_places(coalesce(nullif(order_currency, ''), link_currency),
                                       $codes, $places)) AS order_amount,
    nullif(csv_text(order_currency), '') AS order_currency,
    csv_exact(link_amount, csv_places(link_currency, $codes, $places)) AS link_amount,
    nullif(csv_text(link_currency), '') AS link_currency,
    csv_exact(difference, csv_places(coalesce(nullif(order_currency, ''), link_currency),
                                     $codes, $places)) AS difference,
    csv_exact(at_stake, csv_places(at_stake_currency, $codes, $places)) AS at_stake,
    nullif(csv_text(at_stake_currency), '') AS at_stake_currency,
    nullif(order_status, '') AS order_status,
    nullif(link_status, '') AS link_status,
    age_days,
    csv_moment(order_created_at, csv_zone_offset(order_created_at)) AS order_created_at,
    csv_moment(link_paid_at, csv_zone_offset(link_paid_at)) AS link_paid_at,
    nullif(match_method, '') AS match_method,
    nullif(csv_text(description), '') AS description,
    CASE WHEN is_new THEN 'yes' ELSE 'no' END AS new,
    CASE WHEN in_period THEN 'yes' ELSE 'no' END AS in_period,
    CASE WHEN acknowledged THEN nullif(csv_text(ack_note), '') END AS note,
    CASE WHEN acknowledged THEN nullif(csv_text(ack_by), '') END AS acknowledged_by,
    CASE WHEN acknowledged THEN csv_moment(ack_at, csv_zone_offset(ack_at)) END AS acknowledged_at,
    csv_exact(received_amount, csv_places(link_currency, $codes, $places)) AS received_amount,
    nullif(transaction_ids, '') AS transaction_ids
FROM report_findings
ORDER BY report_rank

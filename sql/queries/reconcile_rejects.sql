-- order_rejected: the rows the account's most recent import could not read, a
-- warning each, money at stake none. A row with an order id is known across runs by it (the
-- rows of one id rejected together, e.g. a repeated id, are one finding, at its first line);
-- a row without one by its file and line. The finding says what was wrong (the column, the
-- value and the reason), not where: the same row on another line or in tomorrow's export is
-- the same finding, still acknowledged.
-- Parameters: $run_id, $account, $severity.
INSERT INTO findings
    (run_id, account, category, severity, order_id, description, finding_key, state_digest)
WITH latest AS (
    SELECT max(id) AS import_id FROM order_imports WHERE account = $account
),
rejected AS (
    SELECT r.file, r.line, r.column_name, r.value, r.reason, r.order_id,
           coalesce(r.order_id, r.file || ':' || r.line) AS subject
    FROM order_rejects AS r
    JOIN latest AS i ON i.import_id = r.import_id
    WHERE r.account = $account
),
rows AS (
    SELECT any_value(order_id) AS order_id, any_value(file) AS file, min(line) AS line,
           arg_min(column_name, line) AS column_name, arg_min(value, line) AS value,
           arg_min(reason, line) AS reason
    FROM rejected
    GROUP BY subject
)
SELECT
    $run_id, $account, 'order_rejected', $severity, order_id,
    file || ' line ' || line
        || coalesce(', column ''' || column_name || '''', '')
        || ': ' || coalesce('''' || nullif(value, '') || ''': ', '') || reason,
    -- the key of every finding (reconcile_findings.sql), with the file and line in place of
    -- the order for a row without an id
    left(md5(concat_ws('|', 'order_rejected', coalesce(order_id, ''), '',
                       nullif($account, 'default'),
                       CASE WHEN order_id IS NULL THEN file || ':' || line END)), 12),
    md5(concat_ws('|', coalesce(column_name, ''), coalesce(value, ''), reason))
FROM rows;

-- Read the staged export (orders_cells: one text column per mapped field, rec, line, and the
-- amount's number_text) into typed orders, with the first reason a row cannot be used.
-- Amounts go text -> DECIMAL in the one number format the file is read with.
-- Parameters: $number_pattern, $thousands, $decimal, $use_date_format, $date_format,
-- $timezone,
-- $filter_values (empty list: keep all), $line_items, $number_example, $time_example, $status_values.
CREATE OR REPLACE TEMP TABLE orders_parsed AS
WITH firsts AS (
    SELECT * FROM orders_cells WHERE NOT $line_items
    UNION ALL
    -- line-item exports carry the order's totals on its first row only; a row without an
    -- order id is no order's line, and is rejected on its own
    (SELECT * FROM orders_cells WHERE $line_items
     QUALIFY rec = min(rec) OVER (PARTITION BY trim(order_id))
             OR coalesce(trim(order_id), '') = '')
),
kept AS (
    SELECT
        *,
        len($filter_values) > 0
            AND NOT list_contains($filter_values, lower(trim(coalesce(filter_value, ''))))
            -- a line-item row without an order id is nobody's: rejected, not left out
            AND NOT ($line_items AND coalesce(trim(order_id), '') = '')
            AS filtered_out
    FROM firsts
),
cells AS (
    SELECT
        f.*,
        trim(f.order_id) AS oid,
        f.currency AS f_currency,
        upper(trim(coalesce(f.currency, ''))) AS cur,
        m.status AS mapped_status,
        trim(coalesce(f.created_at, '')) AS time_text
    FROM kept AS f
    LEFT JOIN status_map AS m ON m.shop_value = lower(trim(coalesce(f.status, '')))
),
numbers AS (
    SELECT
        *,
        regexp_full_match(number_text, $number_pattern) AS number_ok,
        regexp_full_match(cur, '[A-Z0-9]{2,10}') AS code_ok,
        replace(replace(number_text, $thousands, ''), $decimal, '.') AS plain_number,
        -- the symbol or code orders_cells took off before and after the number, when it
        -- took one (a mark holds no digit, so the number is the first place its text is at)
        CASE WHEN number_text <> amount_cell THEN
            [trim(m) FOR m IN [
                left(amount_cell, strpos(amount_cell, number_text) - 1),
                substring(amount_cell, strpos(amount_cell, number_text) + length(number_text))]
             IF trim(m) <> '']
        END AS marks
    FROM cells
),
marked AS (
    SELECT
        *,
        -- a code names the currency itself; a symbol stands for the currencies written with it
        -- ('$' for dollars and the dollar stablecoins)
        coalesce(list_bool_and([CASE m
            WHEN '$' THEN list_contains(['USD', 'USDT', 'USDC', 'DAI', 'BUSD', 'TUSD', 'USDP',
                                         'PYUSD', 'FDUSD', 'CAD', 'AUD', 'NZD', 'HKD', 'SGD'],
                                        cur)
            WHEN '€' THEN list_contains(['EUR', 'EURC', 'EURT'], cur)
            WHEN '£' THEN cur = 'GBP'
            WHEN '¥' THEN list_contains(['JPY', 'CNY'], cur)
            WHEN '₮' THEN cur = 'USDT'
            WHEN '₿' THEN list_contains(['BTC', 'XBT'], cur)
            WHEN 'Ξ' THEN cur = 'ETH'
            ELSE upper(m) = cur END FOR m IN marks]), true) AS marks_fit
    FROM numbers
),
typed AS (
    SELECT
        *,
        -- a cast would round decimals past the 18th: such an amount is refused instead
        -- (a number that reads is digits, then maybe '.' and digits)
        CASE WHEN number_ok AND length(rtrim(split_part(plain_number, '.', 2), '0')) <= 18
             THEN TRY_CAST(plain_number AS DECIMAL(38, 18)) END AS amount_value,
        CASE
            WHEN $use_date_format THEN
                try_strptime(time_text, $date_format) AT TIME ZONE $timezone
            -- the whole cell is a time, nothing after it: DuckDB's cast would drop trailing
            -- text ('10:00 PM', '10:00 America/New_York'), reading another instant. An
            -- offset follows a time ('2026-11-24' ends in a day, not an offset) and is
            -- at most 14 hours, as every zone's is
            WHEN regexp_full_match(time_text, '\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?'
                                              || '\s*(Z|[+-](0\d|1[0-4])(:?[0-5]\d)?)') THEN
                TRY_CAST(time_text AS TIMESTAMPTZ)
            WHEN regexp_full_match(time_text, '\d{4}-\d{2}-\d{2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?')
                THEN TRY_CAST(time_text AS TIMESTAMP) AT TIME ZONE $timezone
        END AS parsed_time
    FROM marked
),
timed AS (
    SELECT
        *,
        -- a time of this era only: no 'infinity', no year 26 read from '24.11.26' by %Y
        CASE WHEN isfinite(parsed_time) AND year(parsed_time) BETWEEN 1900 AND 9999
             THEN parsed_time END AS created_value
    FROM typed
)
SELECT
    rec, line, filtered_out, oid AS order_id, amount AS amount_text, amount_value, cur AS currency,
    f_currency AS currency_text, mapped_status, status AS shop_status, created_value,
    time_text AS created_text, nullif(trim(link_id), '') AS link_id,
    nullif(trim(payment_method), '') AS payment_method,
    CASE
        WHEN filtered_out THEN NULL
        WHEN oid IS NULL OR oid = '' THEN 'order_id'
        WHEN NOT number_ok OR amount_value IS NULL THEN 'amount'
        WHEN cur = '' OR NOT code_ok THEN 'currency'
        WHEN amount_value = 0 OR NOT marks_fit THEN 'amount'
        WHEN mapped_status IS NULL THEN 'status'
        WHEN created_value IS NULL THEN 'created_at'
    END AS bad_field,
    CASE
        WHEN filtered_out THEN NULL
        WHEN oid IS NULL OR oid = '' THEN 'the order id is empty'
        WHEN coalesce(amount, '') = '' THEN 'the amount is empty'
        WHEN NOT number_ok AND regexp_full_match(number_text, '-\s*(' || $number_pattern || ')')
            THEN 'the amount must be positive'
        WHEN NOT number_ok THEN 'the amount is not a number like ' || $number_example
        WHEN amount_value IS NULL THEN 'the amount has more than 18 decimals or 20 digits'
        WHEN cur = '' THEN 'the currency is empty'
        WHEN NOT code_ok THEN 'the currency is not a code'
        WHEN amount_value = 0 THEN 'the amount must be positive'
        WHEN NOT marks_fit THEN 'the amount is written in ' || array_to_string(marks, ' and ')
            || ', not in the currency ' || cur
        WHEN mapped_status IS NULL THEN 'the status is not one of ' || $status_values
        WHEN created_value IS NULL THEN 'the time is not like ' || $time_example
    END AS reason
FROM timed;

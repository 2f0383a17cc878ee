-- What the export's amounts say about its number format (decimal_separator = "auto"), read
-- before any row is stored: an amount only the decimal-point reading reads proves a decimal
-- point, one only the decimal-comma reading reads proves a decimal comma, and one both read
-- as different values (23.033, 1,234) is ambiguous. Amounts without '.' or ',' read the same
-- either way. Per kind: how many, and the first (line, cell, and for the ambiguous kind
-- both values).
-- Staged: orders_cells (orders_cells.sql). Parameters: $point_pattern, $point_thousands,
-- $comma_pattern, $comma_thousands (the number pattern and thousands mark of each reading).
WITH readings AS (
    SELECT
        line, amount AS cell, number_text,
        regexp_full_match(number_text, $point_pattern) AS point_ok,
        regexp_full_match(number_text, $comma_pattern) AS comma_ok
    FROM orders_cells
    WHERE contains(number_text, '.') OR contains(number_text, ',')
),
kinds AS (
    SELECT
        line, cell, as_point, as_comma,
        CASE
            WHEN point_ok AND NOT comma_ok THEN 'point'
            WHEN comma_ok AND NOT point_ok THEN 'comma'
            WHEN point_ok AND as_point <> as_comma THEN 'ambiguous'
        END AS kind
    FROM (
        SELECT
            *,
            -- the two values, only of the few amounts both readings read ('0,000' is 0 both)
            CASE WHEN point_ok AND comma_ok THEN
                TRY_CAST(replace(number_text, $point_thousands, '') AS DECIMAL(38, 18))
            END AS as_point,
            CASE WHEN point_ok AND comma_ok THEN
                TRY_CAST(replace(replace(number_text, $comma_thousands, ''), ',', '.')
                         AS DECIMAL(38, 18))
            END AS as_comma
        FROM readings
    )
)
SELECT kind, count(*), min(line), arg_min(cell, line), arg_min(as_point, line),
       arg_min(as_comma, line)
FROM kinds
WHERE kind IS NOT NULL
GROUP BY kind;

-- The staged export (orders_raw) with each amount's cell trimmed (amount_cell) and its number:
-- the cell without its currency symbol or code and the spaces around (number_text). Read by
-- orders_number_format and orders_normalize.
CREATE OR REPLACE TEMP VIEW orders_cells AS
SELECT
    *,
    -- a cell that starts and ends with a digit has no mark to take off
    CASE WHEN substring(amount_cell, 1, 1) BETWEEN '0' AND '9'
              AND substring(amount_cell, length(amount_cell), 1) BETWEEN '0' AND '9'
         THEN amount_cell
         ELSE regexp_replace(amount_cell,
                             '^([A-Za-z]{3,5}|[$€£¥₮₿Ξ])\s*|\s*([A-Za-z]{3,5}|[$€£¥₮₿Ξ])$', '', 'g')
    END AS number_text
FROM (SELECT *, trim(coalesce(amount, '')) AS amount_cell FROM orders_raw);

-- The staged export (orders_raw) with each amount's number: the cell without its currency
-- symbol or code and the spaces around. Read by orders_number_format and orders_normalize.
CREATE OR REPLACE TEMP VIEW orders_cells AS
SELECT
    *,
    regexp_replace(trim(coalesce(amount, '')),
                   '^([A-Za-z]{3,5}|[$€£¥₮₿Ξ])\s*|\s*([A-Za-z]{3,5}|[$€£¥₮₿Ξ])$', '', 'g')
        AS number_text
FROM orders_raw;

-- exact_sum(amount): the exact sum of DECIMAL(38, 18) amounts, as text with 18 decimals
-- ('199999999999999999999.500000000000000000'), NULL when no amount is summed. DuckDB's
-- sum() of DECIMAL(38, 18) overflows past 20 integer digits, which two amounts PIK or an
-- export may hold reach; the whole units and the decimals (scaled to integers) are summed
-- apart as HUGEINTs, which hold any sum of up to 10^18 amounts. Read as a Decimal in Python.
CREATE OR REPLACE TEMP MACRO exact_sum(amount) AS
    CAST(sum(CAST(trunc(amount) AS HUGEINT))
         + sum(CAST((amount - trunc(amount)) * 1000000000000000000 AS HUGEINT))
           // 1000000000000000000 AS VARCHAR)
    || '.'
    || lpad(CAST(sum(CAST((amount - trunc(amount)) * 1000000000000000000 AS HUGEINT))
                 % 1000000000000000000 AS VARCHAR), 18, '0');

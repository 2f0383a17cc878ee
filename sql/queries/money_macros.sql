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

-- fitting_sum(amount, what): the sum of DECIMAL(38, 18) amounts as a DECIMAL(38, 18), where a
-- finding's money is stored (NULL when nothing is summed). A sum past 20 integer digits does
-- not fit: the statement stops with an error naming `what` and the exact sum, which pik-recon
-- reports as such, never a wrong or rounded amount.
CREATE OR REPLACE TEMP MACRO fitting_sum(amount, what) AS
    CASE WHEN count(amount) > 0 THEN
        coalesce(TRY_CAST(exact_sum(amount) AS DECIMAL(38, 18)),
                 error('pik-recon: ' || what || ' add up to ' || exact_sum(amount)
                       || ', past the 20 integer digits of an amount the warehouse holds'))
    END;

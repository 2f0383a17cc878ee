-- The money each finding puts at stake, in its own currency, computed once by the
-- reconciliation. Both columns stay nullable: a finding about no money (a rejected orders
-- row) has neither.
--
-- Findings of earlier runs get what their own columns say exactly: the paid link's amount
-- (currency_mismatch, paid_but_cancelled, paid_order_not_updated: the finding's link is the
-- paid one), the absolute difference (amount_mismatch), the order's amount (paid_without_
-- payment, expired_unpaid, missing_link, unpaid), the link's (orphans). A duplicate_payment
-- row does not say which of its links were paid when it was found, so its amount stays NULL
-- beside its currency: the money is not known until the next reconciliation.
ALTER TABLE findings ADD COLUMN at_stake DECIMAL(38, 18);
ALTER TABLE findings ADD COLUMN at_stake_currency VARCHAR;
UPDATE findings SET
    at_stake = CASE
        WHEN category IN ('currency_mismatch', 'paid_but_cancelled', 'paid_order_not_updated',
                          'orphan_paid_link', 'orphan_link') THEN link_amount
        WHEN category = 'amount_mismatch' THEN abs(difference)
        WHEN category IN ('paid_without_payment', 'expired_unpaid', 'missing_link', 'unpaid')
            THEN order_amount
    END,
    at_stake_currency = CASE
        WHEN category IN ('currency_mismatch', 'paid_but_cancelled', 'paid_order_not_updated',
                          'orphan_paid_link', 'orphan_link', 'duplicate_payment')
            THEN link_currency
        WHEN category IN ('amount_mismatch', 'paid_without_payment', 'expired_unpaid',
                          'missing_link', 'unpaid') THEN order_currency
    END;

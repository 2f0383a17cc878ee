-- Three-way reconciliation (SPEC §6, money received): a finding about a link's money says
-- what was received on it (the sum of its confirmed and settled transactions in its
-- currency) and which transactions the finding is about (their ids, ';'-separated, in the
-- order they were created). Both stay NULL for findings about orders and rejected rows, and
-- for the findings of earlier runs.
ALTER TABLE findings ADD COLUMN received_amount DECIMAL(38, 18);
ALTER TABLE findings ADD COLUMN transaction_ids VARCHAR;

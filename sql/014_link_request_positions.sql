-- A lost answer is proven absent from PIK's own list, never from our clock: before a row's
-- POST goes out, the ledger records the `total` of an answer of PIK's unfiltered list
-- (links are never removed, so a link created after that answer lies beyond that count).
-- A row already `sent` when this runs has no such answer on record; 0 is a bound that
-- always holds (every link lies beyond it), so its look-up reads the list down to its start.
ALTER TABLE link_requests ADD COLUMN list_position BIGINT;
UPDATE link_requests SET list_position = 0 WHERE state = 'sent';

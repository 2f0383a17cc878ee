-- A position on PIK's list also names a boundary on it: where the stamps change below the
-- newest stamp of its answer, `list_anchor` the stamp just below, `list_below` how many
-- links are stamped at or before it. A later look-up finds the boundary exactly where
-- `list_below` puts it, or proves nothing, so pages that merely look ordered (a list served
-- from a different start each time) cannot prove a lost link absent. A row already `sent`
-- when this runs has no boundary on record; its look-up reads the list from its start.
ALTER TABLE link_requests ADD COLUMN list_anchor VARCHAR;
ALTER TABLE link_requests ADD COLUMN list_below BIGINT;
UPDATE link_requests SET list_position = 0 WHERE state = 'sent';

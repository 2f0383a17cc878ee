-- A position on PIK's list also names its anchor: the id of the newest link when its total
-- was answered. A later look-up finds the anchor exactly where the numbering puts it, or
-- proves nothing, so pages that merely look ordered (a list served from a different start
-- each time) cannot prove a lost link absent. A row already `sent` when this runs has no
-- anchor on record; its look-up reads the list from its start (position 0 needs none).
ALTER TABLE link_requests ADD COLUMN list_anchor VARCHAR;
UPDATE link_requests SET list_position = 0 WHERE state = 'sent';

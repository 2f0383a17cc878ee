-- An import is the file's content read with one mapping: the same file loaded again under
-- another [orders] mapping is a new import.
ALTER TABLE order_imports ADD COLUMN mapping_sha256 VARCHAR;

-- A rejected row keeps its order id when it had one: the order_rejected finding it becomes
-- is known across runs by that id (sql/queries/reconcile_rejects.sql). Rows rejected before
-- have none, and are known by their file and line.
ALTER TABLE order_rejects ADD COLUMN order_id VARCHAR;

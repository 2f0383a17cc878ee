-- The records of one list the warehouse holds that PIK has not been seen to lose.
SELECT count(*) FROM {records} WHERE account = $account AND vanished_at IS NULL;

-- Records PIK answered 404 for, in a sync that ended verified.
UPDATE {records} SET vanished_at = $at WHERE account = $account AND list_contains($ids, id);

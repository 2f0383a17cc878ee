-- The latest acknowledgement of every finding key of every account (reopened or not), for
-- reports and lists.
CREATE OR REPLACE TEMP VIEW latest_acks AS
SELECT *
FROM finding_acks
QUALIFY row_number() OVER (PARTITION BY account, finding_key
                          ORDER BY acknowledged_at DESC, id DESC) = 1;

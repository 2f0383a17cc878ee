-- The latest acknowledgement of every finding key of every account (reopened or not), for
-- reports and lists, and the rule every query reads a finding's state by: acknowledged when
-- the latest acknowledgement of its key was not reopened and was made when the finding said
-- what it says now (its state digest); outdated when it was made before the finding changed.
CREATE OR REPLACE TEMP MACRO is_acknowledged(reopened_at, acked_digest, digest) AS
    coalesce(reopened_at IS NULL AND acked_digest = digest, false);
CREATE OR REPLACE TEMP MACRO is_outdated(reopened_at, acked_digest, digest) AS
    coalesce(reopened_at IS NULL AND acked_digest <> digest, false);
CREATE OR REPLACE TEMP VIEW latest_acks AS
SELECT *
FROM finding_acks
QUALIFY row_number() OVER (PARTITION BY account, finding_key
                          ORDER BY acknowledged_at DESC, id DESC) = 1;

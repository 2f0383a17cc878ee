-- Read a batch of raw pages of transactions (one JSON line per page: n, a = account,
-- r = sync run, s = listed status, p = the body) into record_stage, one row per record.
-- `fast` marks records that are certainly valid: every field of the right JSON type, an id
-- of PIK's form (txn_...), the amount a plain positive decimal within DECIMAL(38, 18)
-- (money.PLAIN_AMOUNT, and not zero), a known status, times in ISO 8601 with a zone. The
-- rest is judged one by one in Python (transactions.parse_transaction), which also words
-- the reasons for the quarantine.
-- Fields that must be JSON strings are read as JSON text: a string is the text between its
-- quotes when it holds no escape. status and the times are read as text: a value of another
-- type cannot pass their checks.
CREATE OR REPLACE TEMP TABLE record_stage AS
WITH records AS (
    SELECT n, a, r, unnest(p.data) AS f, generate_subscripts(p.data, 1) AS i
    FROM read_json($path, format = 'newline_delimited',
                   columns = {n: 'BIGINT', a: 'VARCHAR', r: 'BIGINT', s: 'VARCHAR',
                              p: 'STRUCT(data STRUCT(id JSON, payment_link_id JSON,
                   amount JSON, currency JSON, status VARCHAR, tx_hash JSON, created_at VARCHAR,
                   confirmed_at VARCHAR, settled_at VARCHAR)[])'})
), fields AS (
    SELECT n, i, a, r, f IS NOT NULL AS is_object,
           left(f.id, 1) = '"' AS id_is_text, f.id AS id_json,
           f.payment_link_id IS NULL OR left(f.payment_link_id, 1) = '"' AS link_ok,
           f.payment_link_id AS link_json,
           left(f.amount, 1) = '"' AS amount_is_text, f.amount AS amount_json,
           left(f.currency, 1) = '"' AS currency_is_text, f.currency AS currency_json,
           f.tx_hash IS NULL OR left(f.tx_hash, 1) = '"' AS hash_ok, f.tx_hash AS hash_json,
           f.status AS status, f.created_at AS created_at, f.confirmed_at AS confirmed_at,
           f.settled_at AS settled_at
    FROM records
), texts AS (
    SELECT *,
           CASE WHEN contains(id_json, '\') THEN id_json ->> '$' ELSE id_json[2:-2] END AS id,
           CASE WHEN contains(link_json, '\') THEN link_json ->> '$' ELSE link_json[2:-2] END
               AS payment_link_id,
           amount_json[2:-2] AS amount_text,
           CASE WHEN contains(currency_json, '\') THEN currency_json ->> '$'
                ELSE currency_json[2:-2] END AS currency,
           CASE WHEN contains(hash_json, '\') THEN hash_json ->> '$' ELSE hash_json[2:-2] END
               AS tx_hash
    FROM fields
)
SELECT n, i, a AS account, r AS run_id, id, payment_link_id, amount_text, currency, status,
       tx_hash, created_at, confirmed_at, settled_at,
       coalesce(
           is_object
           AND id_is_text AND starts_with(id, 'txn_') AND length(id) > 4
           AND link_ok
           AND amount_is_text
           AND regexp_full_match(amount_text, '[0-9]{1,20}(\.[0-9]{1,18})?')
           AND regexp_matches(amount_text, '[1-9]')
           AND currency_is_text AND currency <> ''
           AND status IN ('pending', 'confirmed', 'settled', 'failed')
           AND hash_ok
           AND regexp_full_match(created_at,
                                 '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)')
           AND TRY_CAST(created_at AS TIMESTAMPTZ) IS NOT NULL
           AND (confirmed_at IS NULL OR (
                regexp_full_match(confirmed_at,
                                  '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)')
                AND TRY_CAST(confirmed_at AS TIMESTAMPTZ) IS NOT NULL))
           AND (settled_at IS NULL OR (
                regexp_full_match(settled_at,
                                  '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)')
                AND TRY_CAST(settled_at AS TIMESTAMPTZ) IS NOT NULL)),
           false) AS fast
FROM texts;

-- Read a batch of raw pages of links (one JSON line per page: n, a = account, r = sync run,
-- s = listed status, p = the body) into record_stage, one row per record. `fast` marks
-- records that are certainly valid: every field of the right JSON type, the amount a plain
-- positive decimal within DECIMAL(38, 18) (money.PLAIN_AMOUNT, and not zero), times in
-- ISO 8601 with a zone. The rest is judged one by one in Python (links.parse_link), which
-- also words the reasons for the quarantine.
-- Fields that must be JSON strings are read as JSON text: a string is the text between its
-- quotes when it holds no escape. status and the times are read as text: a value of another
-- type cannot pass their checks.
CREATE OR REPLACE TEMP TABLE record_stage AS
WITH records AS (
    SELECT n, a, r, unnest(p.data) AS f, generate_subscripts(p.data, 1) AS i
    FROM read_json($path, format = 'newline_delimited',
                   columns = {n: 'BIGINT', a: 'VARCHAR', r: 'BIGINT', s: 'VARCHAR', p: 'STRUCT(data STRUCT(id JSON,
                   url JSON, amount JSON, currency JSON, description JSON, status VARCHAR,
                   created_at VARCHAR, paid_at VARCHAR)[])'})
), fields AS (
    SELECT n, i, a, r, f IS NOT NULL AS is_object,
           left(f.id, 1) = '"' AS id_is_text, f.id AS id_json,
           f.url IS NULL OR left(f.url, 1) = '"' AS url_ok, f.url AS url_json,
           left(f.amount, 1) = '"' AS amount_is_text, f.amount AS amount_json,
           left(f.currency, 1) = '"' AS currency_is_text, f.currency AS currency_json,
           f.description IS NULL OR left(f.description, 1) = '"' AS description_ok,
           f.description AS description_json,
           f.status AS status, f.created_at AS created_at, f.paid_at AS paid_at
    FROM records
), texts AS (
    SELECT *,
           CASE WHEN contains(id_json, '\') THEN id_json ->> '$' ELSE id_json[2:-2] END AS id,
           CASE WHEN contains(url_json, '\') THEN url_json ->> '$' ELSE url_json[2:-2] END
               AS url,
           amount_json[2:-2] AS amount_text,
           CASE WHEN contains(currency_json, '\') THEN currency_json ->> '$'
                ELSE currency_json[2:-2] END AS currency,
           CASE WHEN contains(description_json, '\') THEN description_json ->> '$'
                ELSE description_json[2:-2] END AS description
    FROM fields
)
SELECT n, i, a AS account, r AS run_id, id, url, amount_text, currency, description, status, created_at, paid_at,
       coalesce(
           is_object
           AND id_is_text AND id <> ''
           AND url_ok
           AND amount_is_text
           AND regexp_full_match(amount_text, '[0-9]{1,20}(\.[0-9]{1,18})?')
           AND regexp_matches(amount_text, '[1-9]')
           AND currency_is_text AND currency <> ''
           AND description_ok
           AND status IN ('active', 'paid', 'expired', 'deactivated')
           AND regexp_full_match(created_at,
                                 '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)')
           AND TRY_CAST(created_at AS TIMESTAMPTZ) IS NOT NULL
           AND (paid_at IS NULL OR (
                regexp_full_match(paid_at,
                                  '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)')
                AND TRY_CAST(paid_at AS TIMESTAMPTZ) IS NOT NULL)),
           false) AS fast
FROM texts;

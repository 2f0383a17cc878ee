-- How findings.csv writes a value, the same rules as report/display.py's for the other files:
-- an amount exact (never rounded), padded to its currency's usual decimals ($codes, $places;
-- 18 for a currency they do not name) with every decimal it has beyond them; a time in the
-- report's zone to the second, with its offset there (csv_zone_offset, made of the zone's
-- offsets as Python's time-zone database has them, which every other file is written
-- with); text from outside that a spreadsheet would run as a formula behind a quote.
CREATE OR REPLACE TEMP MACRO csv_places(currency, codes, places) AS
    coalesce(list_extract(places, list_position(codes, upper(currency))), 18);
CREATE OR REPLACE TEMP MACRO csv_decimals(amount) AS
    rtrim(split_part(CAST(amount AS VARCHAR), '.', 2), '0');
CREATE OR REPLACE TEMP MACRO csv_exact(amount, places) AS
    CASE WHEN greatest(places, length(csv_decimals(amount))) = 0
         THEN split_part(CAST(amount AS VARCHAR), '.', 1)
         ELSE split_part(CAST(amount AS VARCHAR), '.', 1) || '.'
              || rpad(csv_decimals(amount),
                      CAST(greatest(places, length(csv_decimals(amount))) AS INTEGER), '0')
    END;
CREATE OR REPLACE TEMP MACRO csv_offset(seconds) AS
    CASE WHEN seconds < 0 THEN '-' ELSE '+' END
    || lpad(CAST(abs(seconds) // 3600 AS VARCHAR), 2, '0') || ':'
    || lpad(CAST(abs(seconds) % 3600 // 60 AS VARCHAR), 2, '0')
    || CASE WHEN abs(seconds) % 60 = 0 THEN ''
            ELSE ':' || lpad(CAST(abs(seconds) % 60 AS VARCHAR), 2, '0') END;
CREATE OR REPLACE TEMP MACRO csv_moment(moment, offset_seconds) AS
    strftime(timezone('UTC', moment) + to_seconds(offset_seconds), '%Y-%m-%dT%H:%M:%S')
    || csv_offset(offset_seconds);
CREATE OR REPLACE TEMP MACRO csv_text(value) AS
    CASE WHEN left(value, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || value
         ELSE value END;

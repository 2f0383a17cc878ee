"""`pik-recon export parquet` of 1,000,000 links and 1,000,000 orders: wall time and size on
disk, against DuckDB alone writing the same partitions (COPY ... PARTITION_BY account and
creation date, the layout of the export) in the same run; then a re-export with nothing
changed, and one after a day's links changed."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pik_recon.warehouse import Warehouse
from tests.benchmarks.harness import timed_cli

ROWS = 1_000_000
ROUNDS = 3
# Links and orders spread over a year, amounts exact decimals of every currency's scale.
FILL = f"""
INSERT INTO payment_links BY NAME
SELECT 'default' AS account, 'pl_' || i AS id, 'https://pay.pik.global/l/pl_' || i AS url,
       CAST(a AS DECIMAL(38, 18)) AS amount, a AS amount_text, c AS currency,
       'Order #SO-' || i AS description, s AS status, t AS created_at,
       CASE WHEN s = 'paid' THEN t + INTERVAL 1 HOUR END AS paid_at, now() AS first_seen_at,
       now() AS last_seen_at, 1 AS last_seen_run
FROM (SELECT i, ['USDT', 'BTC', 'ETH', 'USDC'][1 + i % 4] AS c,
             ['paid', 'paid', 'expired', 'active', 'deactivated'][1 + i % 5] AS s,
             TIMESTAMPTZ '2026-11-30 12:00:00+00' - to_seconds(i * 31.5) AS t,
             CAST(i % 9973 AS VARCHAR) || '.' || lpad(CAST(i % 100000007 AS VARCHAR), 8, '0')
                 AS a
      FROM range({ROWS}) AS r(i));
INSERT INTO orders BY NAME
SELECT 'default' AS account, 'SO-' || i AS order_id, CAST(a AS DECIMAL(38, 18)) AS amount,
       a AS amount_text, c AS currency, s AS status, s AS shop_status, t AS created_at,
       'pl_' || i AS link_id, 'crypto' AS payment_method, 1 AS import_id, now() AS exported_at,
       i + 2 AS source_line
FROM (SELECT i, ['USDT', 'BTC', 'ETH', 'USDC'][1 + i % 4] AS c,
             ['paid', 'awaiting_payment', 'cancelled', 'paid'][1 + i % 4] AS s,
             TIMESTAMPTZ '2026-11-30 12:00:00+00' - to_seconds(i * 31.5) AS t,
             CAST(i % 9973 AS VARCHAR) || '.' || lpad(CAST(i % 100000007 AS VARCHAR), 8, '0')
                 AS a
      FROM range({ROWS}) AS r(i));
"""
FLOOR = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
for table in ("payment_links", "orders"):
    con.execute(f"COPY (SELECT *, CAST(created_at AS DATE) AS created_date FROM {table}) "
                f"TO '{sys.argv[2]}/{table}' (FORMAT parquet, COMPRESSION zstd, "
                "PARTITION_BY (account, created_date))")
"""
TARGET_RATIO = 1.5  # partitions, manifest, digests and the atomic moves over DuckDB alone


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*.parquet")) / 1e6


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIK_")}
    return {**env, "PIK_RECON_DB": str(db)}


def _written(out: str) -> int:
    results = [json.loads(line) for line in out.splitlines() if '"result": "export"' in line]
    return sum(t["partitions written"] for t in results[0]["tables"])


def test_export_a_million_links_and_orders(tmp_path: Path) -> None:
    db = tmp_path / "wh.duckdb"
    with Warehouse.open(db) as wh:
        wh.execute(FILL)
    floors, firsts = [], []
    for i in range(ROUNDS):  # alternated, so both see the same neighbours on the cores
        floor_dir = tmp_path / f"floor{i}"
        floor_dir.mkdir()
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", FLOOR, str(db), str(floor_dir)], check=True)
        floors.append(time.perf_counter() - started)
        out = tmp_path / f"export{i}"
        args = ["--log-format", "json", "export", "parquet", str(out)]
        first = timed_cli(args, _env(db), tmp_path)
        assert first.returncode == 0, first.stdout[-2000:]
        firsts.append(first.seconds)
    floor, seconds = statistics.median(floors), statistics.median(firsts)
    again = timed_cli(args, _env(db), tmp_path)
    assert again.returncode == 0 and _written(again.stdout) == 0
    with Warehouse.open(db) as wh:  # a day of links changes: one partition of one table
        wh.execute("UPDATE payment_links SET status = 'paid' WHERE status = 'active' AND "
                   "CAST(created_at AS DATE) = DATE '2026-11-29'")
    day = timed_cli(args, _env(db), tmp_path)
    assert day.returncode == 0 and _written(day.stdout) == 1

    partitions = sum(1 for _ in out.rglob("*.parquet"))
    floor_files = sum(1 for _ in floor_dir.rglob("*.parquet"))
    assert floor_files == sum(1 for table in ("payment_links", "orders")
                              for _ in (out / table).rglob("*.parquet"))  # the same partitions
    print(f"\n[export] {ROWS:,} links + {ROWS:,} orders: pik-recon export parquet "
          f"{seconds:5.1f} s (median of {ROUNDS}), {_size_mb(out):5.0f} MB in {partitions} "
          f"partition files, "
          f"peak RSS {first.peak_rss_mb:.0f} MB | DuckDB alone, PARTITION_BY the same keys: "
          f"{floor:5.1f} s (median of {ROUNDS}), {_size_mb(floor_dir):5.0f} MB in {floor_files} "
          f"files | ratio {seconds / floor:.2f} (target <= {TARGET_RATIO})"
          f" | re-export, nothing changed: {again.seconds:4.1f} s, 0 files written | one day "
          f"of links changed: {day.seconds:4.1f} s, 1 partition written")
    assert first.peak_rss_mb <= 1_000
    assert seconds <= TARGET_RATIO * floor

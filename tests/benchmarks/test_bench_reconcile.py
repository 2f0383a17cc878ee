"""Issue: orders load + reconcile of 1,000,000 orders x 1,000,000 links vs DuckDB alone."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from pik_recon.categories import MONEY_CATEGORIES
from pik_recon.sandbox.generate import generate_dataset, write_dataset
from pik_recon.warehouse import Warehouse
from tests.benchmarks.harness import timed_cli
from tests.conftest import record_sync

ORDERS = 1_060_000  # planted cases: about 1,000,000 orders plus orphan links
MONEY = {c for c, _ in MONEY_CATEGORIES}
# The floor: DuckDB alone counts the CSV's rows joined to the links on the order id. DuckDB
# parses only the columns a query uses, so this floor reads one column of the CSV; the second
# figure keeps every column of the joined rows, as a reconciliation must.
JOIN = ("FROM read_csv(?, header=true, all_varchar=true) AS o JOIN payment_links AS l "
        "ON o.order_id = regexp_extract(l.description, '^Order #(\\S+)$', 1)")
FLOOR = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute(sys.argv[3], [sys.argv[2]]).fetchall()
"""


def load_links_directly(db: Path, jsonl: Path) -> int:
    """Set-up, not measured: the links straight into payment_links."""
    Warehouse.open(db).close()
    con = duckdb.connect(str(db))
    con.execute("""
        INSERT INTO payment_links
        SELECT id, url, CAST(amount AS DECIMAL(38, 18)), amount, currency, description, status,
               CAST(created_at AS TIMESTAMPTZ), CAST(paid_at AS TIMESTAMPTZ), now(), now(), 1,
               NULL, 'default'
        FROM read_json(?, format = 'newline_delimited', columns = {id: 'VARCHAR',
             url: 'VARCHAR', amount: 'VARCHAR', currency: 'VARCHAR', description: 'VARCHAR',
             status: 'VARCHAR', created_at: 'VARCHAR', paid_at: 'VARCHAR'})""", [str(jsonl)])
    count = con.execute("SELECT count(*) FROM payment_links").fetchone()[0]
    record_sync(con)
    con.close()
    return count


def _floor(db: Path, csv: Path, sql: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR, str(db), str(csv), sql], check=True)
    return time.perf_counter() - started


def test_load_and_reconcile_a_million(tmp_path: Path) -> None:
    data = generate_dataset(ORDERS, 7)
    write_dataset(data, "plain", tmp_path)
    db = tmp_path / "wh.duckdb"
    links = load_links_directly(db, tmp_path / "links.jsonl")
    os.sync()  # the set-up's files reach the disk now, not during the timed runs

    floor, every_column = (
        _floor(db, tmp_path / "orders.csv", f"SELECT count(*) {JOIN}"),
        _floor(db, tmp_path / "orders.csv", f"CREATE TEMP TABLE joined AS SELECT o.*, l.* {JOIN}"))

    env = {**os.environ, "PIK_RECON_DB": str(db)}
    env.pop("PIK_RECON_CONFIG", None)
    run = timed_cli(["reconcile", "--orders", str(tmp_path / "orders.csv"), "--as-of",
                     data.as_of.isoformat()], env, tmp_path)
    assert run.returncode == 0, run.stdout
    # the links only, as this benchmark's warehouse holds no transactions: nothing of money
    # received (test_bench_reconcile_money.py reconciles with them)
    with (tmp_path / "expected_findings.csv").open(encoding="utf-8", newline="") as fh:
        expected = sum(1 for r in csv.DictReader(fh) if r["category"] not in MONEY)
    con = duckdb.connect(str(db), read_only=True)
    found = con.execute("SELECT count(*) FROM findings").fetchone()[0]
    con.close()
    print(f"\n[reconcile {len(data.orders):,} orders x {links:,} links] DuckDB floor "
          f"{floor:5.1f} s | pik-recon orders load + reconcile {run.seconds:5.1f} s | ratio "
          f"{run.seconds / floor:4.2f} (target <= 3.0) | floor keeping every column "
          f"{every_column:4.1f} s (ratio {run.seconds / every_column:4.2f}) | target <= 20 s "
          f"| peak RSS "
          f"{run.peak_rss_mb:5.0f} MB (target <= 2048) | findings {found} (planted {expected})")
    assert found == expected
    assert run.seconds <= 20
    assert run.seconds <= 3 * floor
    assert run.peak_rss_mb <= 2048

"""Issue: orders load + reconcile of 1,000,000 orders x 1,000,000 links in at most 3x DuckDB
alone reading the export typed and doing the same joins, in the same run; peak RSS <= 1 GB."""

from __future__ import annotations

import csv
import os
import shutil
import statistics
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
ROUNDS = 3
MONEY = {c for c, _ in MONEY_CATEGORIES}
# The floor: DuckDB alone reads every column of the export typed (the amount exact, the time
# with its zone), joins the links to the orders by the order's link-id column and by the
# description, groups the links per order and keeps the result, as a reconciliation must.
FLOOR_SQL = r"""
CREATE TEMP TABLE floor AS
WITH o AS (
    SELECT * FROM read_csv(?, header = true, auto_detect = false, columns = {
        'order_id': 'VARCHAR', 'amount': 'DECIMAL(38, 18)', 'currency': 'VARCHAR',
        'status': 'VARCHAR', 'created_at': 'TIMESTAMPTZ', 'link_id': 'VARCHAR',
        'payment_method': 'VARCHAR'})
),
m AS (
    SELECT l.id, o.order_id FROM payment_links AS l JOIN o ON o.link_id = l.id
    UNION ALL
    SELECT l.id, o.order_id FROM payment_links AS l
    JOIN o ON o.order_id = regexp_extract(l.description, '^Order #(\S+)$', 1)
),
per_order AS (
    SELECT m.order_id, count(*) AS links, sum(l.amount) AS paid, min(l.status) AS status
    FROM m JOIN payment_links AS l ON l.id = m.id GROUP BY m.order_id
)
SELECT o.*, p.links, p.paid, p.status AS link_status
FROM o LEFT JOIN per_order AS p ON p.order_id = o.order_id
"""
FLOOR = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute(sys.argv[2], [sys.argv[3]])
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


def _floor(db: Path, orders: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR, str(db), FLOOR_SQL, str(orders)], check=True)
    return time.perf_counter() - started


def test_load_and_reconcile_a_million(tmp_path: Path) -> None:
    data = generate_dataset(ORDERS, 7)
    write_dataset(data, "plain", tmp_path)
    synced = tmp_path / "synced.duckdb"
    links = load_links_directly(synced, tmp_path / "links.jsonl")
    # the links only, as this benchmark's warehouse holds no transactions: nothing of money
    # received (test_bench_reconcile_money.py reconciles with them)
    with (tmp_path / "expected_findings.csv").open(encoding="utf-8", newline="") as fh:
        expected = sum(1 for r in csv.DictReader(fh) if r["category"] not in MONEY)
    env = {**os.environ}
    env.pop("PIK_RECON_CONFIG", None)
    floors, runs = [], []
    for i in range(ROUNDS):  # alternated, so both see the same neighbours on the cores
        db = tmp_path / f"wh{i}.duckdb"
        shutil.copy(synced, db)  # each round loads the export into a warehouse of links only
        os.sync()  # the set-up's files reach the disk now, not during the timed runs
        floors.append(_floor(db, tmp_path / "orders.csv"))
        run = timed_cli(["reconcile", "--orders", str(tmp_path / "orders.csv"), "--as-of",
                         data.as_of.isoformat()], {**env, "PIK_RECON_DB": str(db)}, tmp_path)
        assert run.returncode == 0, run.stdout
        con = duckdb.connect(str(db), read_only=True)
        found = con.execute("SELECT count(*) FROM findings").fetchone()[0]
        con.close()
        assert found == expected
        runs.append(run)
    floor, seconds = statistics.median(floors), statistics.median(r.seconds for r in runs)
    peak = max(r.tree_peak_rss_mb for r in runs)
    print(f"\n[reconcile {len(data.orders):,} orders x {links:,} links] pik-recon orders load "
          f"+ reconcile {seconds:5.2f} s (median of {[round(r.seconds, 2) for r in runs]}) | "
          f"floor (DuckDB: read_csv of every column typed + the joins + group by) {floor:5.2f} s "
          f"(median of {[round(f, 2) for f in floors]}) | ratio {seconds / floor:4.2f} (target "
          f"<= 3.0) | peak RSS {peak:5.0f} MB (target <= 1024) | findings {found} (planted "
          f"{expected})")
    assert seconds <= 20
    assert seconds <= 3 * floor
    assert peak <= 1024

"""Issue: reconcile of 1,000,000 orders x 1,000,000 links x about 1,000,000 transactions (the
three-way reconciliation, webhook capture on) in at most 10 s, against DuckDB alone doing the
same joins in the same run."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from pik_recon.sandbox.generate import generate_dataset, write_dataset
from tests.benchmarks.harness import timed_cli
from tests.benchmarks.test_bench_reconcile import load_links_directly

ORDERS = 1_060_000  # planted cases: about 1,000,000 orders plus orphan links
# The floor: DuckDB alone reads the typed tables and does the joins a three-way
# reconciliation needs (orders to links by the description, transactions and signed events
# grouped per link and per transaction, links to their money), keeping the result.
FLOOR_SQL = r"""
CREATE TEMP TABLE floor AS
WITH events AS (
    SELECT transaction_id, count(*) AS n, bool_or(amount IS DISTINCT FROM NULL) AS any_amount
    FROM webhook_events WHERE signed GROUP BY transaction_id
),
money AS (
    SELECT t.payment_link_id, count(*) AS n,
           sum(t.amount) FILTER (WHERE t.status IN ('confirmed', 'settled')) AS received,
           count(*) FILTER (WHERE e.n IS NULL) AS unannounced
    FROM transactions AS t LEFT JOIN events AS e ON e.transaction_id = t.id
    GROUP BY t.payment_link_id
)
SELECT l.id, l.amount, l.status, o.order_id, o.amount AS order_amount, m.n, m.received,
       m.unannounced
FROM payment_links AS l
FULL JOIN money AS m ON m.payment_link_id = l.id
LEFT JOIN orders AS o ON o.order_id = regexp_extract(l.description, '^Order #(\S+)$', 1)
"""
FLOOR = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute(sys.argv[2])
"""


def load_money_directly(db: Path, folder: Path) -> tuple[int, int]:
    """Set-up, not measured: transactions.jsonl into transactions (seen a day before the
    sync), webhook_events.jsonl into webhook_events as the receiver would have stored them
    (signed)."""
    con = duckdb.connect(str(db))
    con.execute("""
        INSERT INTO transactions (account, id, payment_link_id, amount, amount_text, currency,
                                  status, tx_hash, created_at, confirmed_at, settled_at,
                                  first_seen_at, last_seen_at, last_seen_run)
        SELECT 'default', id, payment_link_id, CAST(amount AS DECIMAL(38, 18)), amount,
               currency, status, tx_hash, CAST(created_at AS TIMESTAMPTZ),
               CAST(confirmed_at AS TIMESTAMPTZ), CAST(settled_at AS TIMESTAMPTZ),
               now() - INTERVAL 1 DAY, now() - INTERVAL 1 DAY, 1
        FROM read_json(?, format = 'newline_delimited', columns = {id: 'VARCHAR',
             payment_link_id: 'VARCHAR', amount: 'VARCHAR', currency: 'VARCHAR',
             status: 'VARCHAR', tx_hash: 'VARCHAR', created_at: 'VARCHAR',
             confirmed_at: 'VARCHAR', settled_at: 'VARCHAR'})""",
                [str(folder / "transactions.jsonl")])
    con.execute("""
        INSERT INTO webhook_events (account, event_id, event_type, created_at, received_at,
                                    transaction_id, payment_link_id, amount, amount_text,
                                    currency, status, confirmed_at, signed, signature, source,
                                    body, loaded_at)
        SELECT 'default', id, event, CAST(created_at AS TIMESTAMPTZ), now(),
               data.transaction_id, data.payment_link_id,
               CAST(data.amount AS DECIMAL(38, 18)), data.amount, data.currency, data.status,
               CAST(data.confirmed_at AS TIMESTAMPTZ), true, NULL, 'receiver', '', now()
        FROM read_json(?, format = 'newline_delimited', columns = {id: 'VARCHAR',
             event: 'VARCHAR', created_at: 'VARCHAR', data: 'STRUCT(transaction_id VARCHAR,
             payment_link_id VARCHAR, amount VARCHAR, currency VARCHAR, status VARCHAR,
             confirmed_at VARCHAR)'})""", [str(folder / "webhook_events.jsonl")])
    counts = con.execute("SELECT (SELECT count(*) FROM transactions), "
                         "(SELECT count(*) FROM webhook_events)").fetchone()
    con.close()
    return int(counts[0]), int(counts[1])


def _floor(db: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR, str(db), FLOOR_SQL], check=True)
    return time.perf_counter() - started


def test_three_way_reconcile_of_a_million(tmp_path: Path) -> None:
    data = generate_dataset(ORDERS, 8)
    write_dataset(data, "plain", tmp_path)
    db = tmp_path / "wh.duckdb"
    links = load_links_directly(db, tmp_path / "links.jsonl")  # and a verified sync
    transactions, events = load_money_directly(db, tmp_path)
    env = {**os.environ, "PIK_RECON_DB": str(db), "PIK_WEBHOOK_SECRET": "whsec_bench"}
    env.pop("PIK_RECON_CONFIG", None)
    loaded = timed_cli(["orders", "load", str(tmp_path / "orders.csv")], env, tmp_path)
    assert loaded.returncode == 0, loaded.stdout
    os.sync()  # the set-up's files reach the disk now, not during the timed runs

    floor = _floor(db)
    run = timed_cli(["reconcile", "--as-of", data.as_of.isoformat()], env, tmp_path)
    assert run.returncode == 0, run.stdout
    floor_after = _floor(db)  # the floor again, after: a machine busy meanwhile shows
    with (tmp_path / "expected_findings.csv").open(encoding="utf-8", newline="") as fh:
        planted = {(r["category"], r["order_id"], r["link_ids"], r["transaction_ids"])
                   for r in csv.DictReader(fh)}
    con = duckdb.connect(str(db), read_only=True)
    found = set(con.execute(
        "SELECT category, coalesce(order_id, ''), coalesce(link_ids, ''), "
        "coalesce(transaction_ids, '') FROM findings WHERE run_id = "
        "(SELECT max(id) FROM reconcile_runs)").fetchall())
    con.close()
    print(f"\n[three-way reconcile {len(data.orders):,} orders x {links:,} links x "
          f"{transactions:,} transactions, {events:,} signed events] pik-recon reconcile "
          f"{run.seconds:5.1f} s (target <= 10) | DuckDB alone, the same joins "
          f"{floor:4.1f} s before, {floor_after:4.1f} s after | ratio "
          f"{run.seconds / min(floor, floor_after):4.2f} | peak RSS {run.peak_rss_mb:5.0f} MB "
          f"(target <= 2048) | findings {len(found):,} (planted {len(planted):,})")
    assert found == planted
    assert run.seconds <= 10
    assert run.peak_rss_mb <= 2048

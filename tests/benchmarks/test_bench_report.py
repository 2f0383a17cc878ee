"""Issue: reports for a period with 1,000,000 orders; XLSX split at Excel's real row limit."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import openpyxl

from pik_recon.config import load_config
from pik_recon.reconcile import reconcile
from pik_recon.report import EXCEL_MAX_ROWS, write_report
from pik_recon.sandbox.generate import generate_dataset, write_dataset
from pik_recon.warehouse import Warehouse
from tests.benchmarks.harness import timed_cli
from tests.benchmarks.test_bench_reconcile import load_links_directly
from tests.conftest import record_sync

ORDERS = 1_060_000  # planted cases: about 1,000,000 orders plus orphan links


def test_report_of_a_million_orders(tmp_path: Path) -> None:
    data = generate_dataset(ORDERS, 9)
    write_dataset(data, "plain", tmp_path)
    db = tmp_path / "wh.duckdb"
    load_links_directly(db, tmp_path / "links.jsonl")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIK_")}
    env["PIK_RECON_DB"] = str(db)
    loaded = timed_cli(["reconcile", "--orders", str(tmp_path / "orders.csv"), "--as-of",
                        data.as_of.isoformat()], env, tmp_path)
    assert loaded.returncode == 0, loaded.stdout
    out = tmp_path / "report"
    run = timed_cli(["report", "--since", "2026-01-01", "--until", "2026-11-21", "--out",
                     str(out)], env, tmp_path)
    assert run.returncode == 0, run.stdout
    html_mb = (out / "report.html").stat().st_size / 1e6
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(out.iterdir()))
    print(f"\n[report {len(data.orders):,} orders, {len(data.expected):,} findings] all formats "
          f"{run.seconds:5.1f} s (target <= 60) | peak RSS {run.peak_rss_mb:5.0f} MB "
          f"(target <= 2048) | report.html {html_mb:.2f} MB (target <= 5) | {sizes}")
    assert run.seconds <= 60
    assert run.peak_rss_mb <= 2048
    assert html_mb <= 5


def test_xlsx_continues_past_the_real_row_limit(tmp_path: Path) -> None:
    db = tmp_path / "wh.duckdb"
    extra = EXCEL_MAX_ROWS + 1_000
    with Warehouse.open(db) as wh:
        record_sync(wh)
        wh.execute("INSERT INTO payment_links SELECT 'pl_' || i, NULL, 1, '1', 'USDT', "
                   "'Donation', 'active', TIMESTAMPTZ '2026-11-01 00:00:00+00', NULL, now(), "
                   "now(), 1, NULL, 'default' FROM range(?) AS t(i)", [extra])
        reconcile(wh, load_config(env={}).matching, datetime(2026, 11, 20, tzinfo=UTC))
    with Warehouse.open(db, read_only=True) as wh:
        data = write_report(wh, load_config(env={}).report, accounts=["default"],
                            since=datetime(2026, 10, 1, tzinfo=UTC),
                            until=datetime(2026, 11, 20, tzinfo=UTC), out=tmp_path / "out",
                            formats=("xlsx",), now=datetime(2026, 11, 20, tzinfo=UTC))
    assert data.findings_total == extra
    book = openpyxl.load_workbook(tmp_path / "out" / "report.xlsx", read_only=True)
    rows = {name: book[name].max_row for name in book.sheetnames}
    print(f"\n[xlsx at the real limit] {extra:,} findings -> sheets {rows}")
    assert rows["Findings"] == EXCEL_MAX_ROWS
    assert rows["Findings 2"] == extra - (EXCEL_MAX_ROWS - 1) + 1

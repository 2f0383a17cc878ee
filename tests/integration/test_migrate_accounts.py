"""A warehouse made before accounts existed opens, migrates, and keeps every row, as the
account `default`; its finding ids and acknowledgements still hold."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from pik_recon.config import load_config
from pik_recon.errors import WarehouseError
from pik_recon.findings import findings_of
from pik_recon.reconcile import reconcile
from pik_recon.warehouse import Warehouse
from tests.conftest import warehouse_at

BEFORE_ACCOUNTS = 9  # the last migration before sql/010_accounts.sql
AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
# One row in every table, as the version before accounts wrote them: a paid link of 75 USDT
# for order 7 of 70 USDT (an amount mismatch), acknowledged by finance.
ROWS = [
    "INSERT INTO payment_links VALUES ('pl_one', 'https://pay.example/l/pl_one', 75, '75.00', "
    "'USDT', 'Order #7', 'paid', '2026-11-01 10:00:00+00', '2026-11-02 11:00:00+00', "
    "'2026-11-03 00:00:00+00', '2026-11-03 00:00:00+00', 1, NULL)",
    "INSERT INTO link_status_history (link_id, old_status, new_status, observed_at, "
    "sync_run_id) VALUES ('pl_one', NULL, 'paid', '2026-11-03 00:00:00+00', 1)",
    "INSERT INTO sync_runs (id, mode, started_at, finished_at, state, verified, verdict) "
    "VALUES (nextval('sync_runs_seq'), 'full', '2026-11-03 00:00:00+00', "
    "'2026-11-03 00:01:00+00', 'finished', true, 'verified')",
    "INSERT INTO quarantine (sync_run_id, observed_at, listed_status, link_id, reason, record) "
    "VALUES (1, '2026-11-03 00:00:00+00', 'paid', 'pl_bad', 'amount is not a decimal', "
    "'{\"id\": \"pl_bad\"}')",
    "INSERT INTO order_imports VALUES (nextval('order_imports_seq'), 'orders.csv', 'abc', "
    "'2026-11-03 00:00:00+00', '2026-11-03 00:00:00+00', 2, 1, 0, 1, 'def')",
    "INSERT INTO orders VALUES ('7', 70, '70.00', 'USDT', 'paid', 'paid', "
    "'2026-11-01 09:00:00+00', NULL, 'crypto', 1, '2026-11-03 00:00:00+00', 2)",
    "INSERT INTO order_rejects VALUES (1, 'orders.csv', 3, 'amount', 'x', 'not a number')",
    "INSERT INTO link_requests (order_id, amount, amount_text, currency, description, state, "
    "created_at, updated_at) VALUES ('8', 5, '5', 'USDT', 'Order #8', 'failed', now(), now())",
    "INSERT INTO reconcile_runs (id, started_at, finished_at, as_of, state) VALUES "
    "(nextval('reconcile_runs_seq'), '2026-11-03 01:00:00+00', '2026-11-03 01:00:01+00', "
    "'2026-11-03 01:00:00+00', 'finished')",
    # the finding as the version before wrote it: its key and digest by migration 009's rule
    "INSERT INTO findings (run_id, category, severity, order_id, link_id, link_ids, "
    "order_amount, order_currency, link_amount, link_currency, difference, order_status, "
    "link_status, finding_key, state_digest) SELECT 1, 'amount_mismatch', 'critical', '7', "
    "'pl_one', 'pl_one', 70, 'USDT', 75, 'USDT', 5, 'paid', 'paid', "
    "left(md5('amount_mismatch|7|pl_one'), 12), md5(concat_ws('|', "
    "CAST(CAST(70 AS DECIMAL(38, 18)) AS VARCHAR), 'USDT', "
    "CAST(CAST(75 AS DECIMAL(38, 18)) AS VARCHAR), 'USDT', "
    "CAST(CAST(5 AS DECIMAL(38, 18)) AS VARCHAR), 'paid', 'paid', 'pl_one'))",
    "INSERT INTO finding_acks (finding_key, category, order_id, link_id, state_digest, note, "
    "acknowledged_by, acknowledged_at, run_id) SELECT finding_key, category, order_id, "
    "link_id, state_digest, 'refunded 5 USDT', 'ana', '2026-11-03 02:00:00+00', 1 "
    "FROM findings",
    "INSERT INTO job_runs VALUES (nextval('job_runs_seq'), 'nightly', 'scheduled', 'h', 1, "
    "'2026-11-03 00:00:00+00', '2026-11-03 00:02:00+00', 'ok', 0, '[]', NULL)",
]
TABLES = ("payment_links", "link_status_history", "sync_runs", "quarantine", "order_imports",
          "orders", "order_rejects", "link_requests", "reconcile_runs", "findings",
          "finding_acks")


@pytest.fixture
def old_warehouse(tmp_path: Path) -> Path:
    db = tmp_path / "old.duckdb"
    con = warehouse_at(db, BEFORE_ACCOUNTS)
    for sql in ROWS:
        con.execute(sql)
    con.close()
    return db


def test_every_row_is_kept_as_the_default_account(old_warehouse: Path) -> None:
    con = duckdb.connect(str(old_warehouse), read_only=True)
    before = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
    columns = {t: [c[0] for c in con.execute(f"SELECT * FROM {t} LIMIT 0").description]
               for t in TABLES}
    con.close()

    Warehouse.open(old_warehouse).close()

    con = duckdb.connect(str(old_warehouse), read_only=True)
    try:
        for table in TABLES:  # the columns it had (later migrations may add others)
            after = con.execute(f"SELECT {', '.join(columns[table])} FROM {table} "
                                "ORDER BY ALL").fetchall()
            assert after == before[table] and len(after) == 1, table
            assert con.execute(f"SELECT DISTINCT account FROM {table}").fetchall() == [
                ("default",)], table
        assert con.execute("SELECT accounts FROM job_runs").fetchall() == [(["default"],)]
    finally:
        con.close()


def test_a_row_without_its_account_is_refused(old_warehouse: Path) -> None:
    with Warehouse.open(old_warehouse) as wh:
        with pytest.raises(WarehouseError, match="NOT NULL"):
            wh.execute("INSERT INTO orders (order_id, amount, amount_text, currency, status, "
                       "shop_status, created_at, import_id, exported_at, source_line) VALUES "
                       "('9', 1, '1', 'USDT', 'paid', 'paid', now(), 1, now(), 2)")
        # an order id is one order per account: the ledger keys on both
        wh.execute("INSERT INTO link_requests (account, order_id, amount, amount_text, "
                   "currency, description, state, created_at, updated_at) VALUES ('brand-b', "
                   "'8', 5, '5', 'USDT', 'Order #8', 'pending', now(), now())")
        with pytest.raises(WarehouseError, match=r"(?i)constraint|duplicate"):
            wh.execute("INSERT INTO link_requests (account, order_id, amount, amount_text, "
                       "currency, description, state, created_at, updated_at) VALUES "
                       "('default', '8', 5, '5', 'USDT', 'Order #8', 'pending', now(), now())")


def test_finding_ids_and_acknowledgements_outlive_the_migration(old_warehouse: Path) -> None:
    with Warehouse.open(old_warehouse) as wh:
        (old_key,), = wh.fetchall("SELECT finding_key FROM findings")
        result = reconcile(wh, load_config(env={}).matching, AS_OF)
        _, found = findings_of(wh, ["default"])
    # the old import's rejected row is a finding too (migration 011: known by file and line)
    assert result.by_category == {"amount_mismatch": 1, "order_rejected": 1}
    assert [(f.account, f.key, f.category, f.acknowledged, f.note) for f in found
            if f.category == "amount_mismatch"] == [
        ("default", old_key, "amount_mismatch", True, "refunded 5 USDT")]
    assert [(f.order_id, f.description) for f in found if f.category == "order_rejected"] == [
        (None, "orders.csv line 3, column 'amount': 'x': not a number")]
    assert result.open_by_severity == {"warning": 1}

"""Migrations upgrade a warehouse in place and keep its rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pik_recon import warehouse as warehouse_module
from pik_recon.errors import WarehouseError
from pik_recon.warehouse import Warehouse, migrations
from tests.conftest import warehouse_at

LINK = ("pl_one", "https://pay.example/l/pl_one", "75.00", "75.00", "USDT", "Order #7",
        "paid", "2026-11-01 10:00:00+00", "2026-11-02 11:00:00+00", "2026-11-03 00:00:00+00",
        "2026-11-03 00:00:00+00", 1)


def test_migration_006_keeps_links_and_stores_ids_uncompressed(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    con = warehouse_at(db, 5)
    con.execute("INSERT INTO payment_links VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", LINK)
    con.execute("INSERT INTO link_status_history (link_id, old_status, new_status, "
                "observed_at, sync_run_id) VALUES ('pl_one', NULL, 'paid', now(), 1)")
    con.close()

    Warehouse.open(db).close()

    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] >= 6
    row = con.execute("SELECT id, amount, amount_text, status FROM payment_links").fetchall()
    assert [(r[0], str(r[1]), r[2], r[3]) for r in row] == [
        ("pl_one", "75.000000000000000000", "75.00", "paid")]
    assert con.execute("SELECT link_id, new_status FROM link_status_history").fetchall() == [
        ("pl_one", "paid")]
    compression = dict(con.execute(
        "SELECT column_name, compression FROM pragma_storage_info('payment_links') "
        "WHERE segment_type = 'VARCHAR' AND column_name IN ('id', 'amount_text')").fetchall())
    con.close()
    assert compression == {"id": "Uncompressed", "amount_text": "Uncompressed"}


def test_a_failing_migration_is_a_warehouse_error_and_applies_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "wh.duckdb"
    Warehouse.open(db).close()
    broken = [*migrations(), (999, "999_broken.sql", "CREATE TABLE t (a INT); SELEC oops;")]
    monkeypatch.setattr(warehouse_module, "migrations", lambda: broken)

    with pytest.raises(WarehouseError, match=r"syntax error") as caught:
        Warehouse.open(db)

    assert not isinstance(caught.value, duckdb.Error)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 't'"
                       ).fetchone() == (0,)
    con.close()


def test_a_transaction_that_cannot_begin_is_a_warehouse_error(tmp_path: Path) -> None:
    with (Warehouse.open(tmp_path / "wh.duckdb") as wh, wh.transaction(),
          pytest.raises(WarehouseError, match="transaction"), wh.transaction()):
        pass  # a transaction within one

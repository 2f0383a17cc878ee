"""Migrations upgrade a warehouse in place and keep its rows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pik_recon import warehouse as warehouse_module
from pik_recon.attention import needs_attention
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


ORDER = ("SO-1", "75.000000000000000000", "75.00", "USDT", "paid", "Paid",
         "2026-11-01 10:00:00+00", "pl_one", "crypto", 1, "2026-11-02 00:00:00+00", 2,
         "default")
FINDING = (1, "amount_mismatch", "critical", "SO-1", "pl_one", "pl_one",
           "75.000000000000000000", "USDT", "70.000000000000000000", "USDT",
           "-5.000000000000000000", "paid", "paid", 3, "link_id_column", "Order #SO-1",
           "a1b2c3d4e5f6", "0123456789abcdef0123456789abcdef", "default",
           "5.000000000000000000", "USDT", None, None)


def test_migration_020_keeps_orders_and_findings_and_stores_ids_uncompressed(
        tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    con = warehouse_at(db, 19)
    con.execute(f"INSERT INTO orders VALUES ({', '.join('?' * len(ORDER))})", ORDER)
    con.execute(f"INSERT INTO findings VALUES ({', '.join('?' * len(FINDING))})", FINDING)
    columns = {t: con.execute("SELECT column_name, data_type, is_nullable, column_default "
                              "FROM duckdb_columns() WHERE table_name = ? ORDER BY "
                              "column_index", [t]).fetchall() for t in ("orders", "findings")}
    rows = {t: con.execute(f"SELECT * FROM {t}").fetchall() for t in ("orders", "findings")}
    con.close()

    Warehouse.open(db).close()

    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] >= 20
    for table in ("orders", "findings"):  # the same columns, in the same order, same rows
        assert con.execute("SELECT column_name, data_type, is_nullable, column_default FROM "
                           "duckdb_columns() WHERE table_name = ? ORDER BY column_index",
                           [table]).fetchall() == columns[table]
        assert con.execute(f"SELECT * FROM {table}").fetchall() == rows[table]
    stored = {(t, column): kind for t in ("orders", "findings") for column, kind in con.execute(
        f"SELECT column_name, compression FROM pragma_storage_info('{t}') "
        "WHERE segment_type = 'VARCHAR'").fetchall()}
    con.close()
    plain = [("orders", "order_id"), ("orders", "amount_text"), ("findings", "order_id"),
             ("findings", "link_id"), ("findings", "link_ids"), ("findings", "finding_key"),
             ("findings", "state_digest")]
    assert {key: stored[key] for key in plain} == dict.fromkeys(plain, "Uncompressed")


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


# A finding of each kind as runs before migration 012 wrote them: (category, order amount
# and currency, link amount and currency, difference).
OLD_FINDINGS = [
    ("currency_mismatch", "critical", "70", "USDT", "0.00125", "BTC", None),
    ("amount_mismatch", "critical", "70", "USDT", "65", "USDT", "-5"),
    ("duplicate_payment", "critical", "70", "USDT", "70", "USDT", "0"),
    ("paid_but_cancelled", "critical", "20", "USDT", "20", "USDT", "0"),
    ("missing_link", "warning", "30", "ETH", None, None, None),
    ("orphan_link", "info", None, None, "7", "USDT", None),
]


def test_migration_012_prices_older_findings_where_their_own_columns_say_it_exactly(
        tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    con = warehouse_at(db, 11)  # the last migration before sql/012_at_stake.sql
    con.execute("INSERT INTO reconcile_runs (id, account, started_at, finished_at, as_of, "
                "state) VALUES (1, 'default', now(), now(), now(), 'finished')")
    for i, (category, severity, order_amount, order_currency, link_amount, link_currency,
            difference) in enumerate(OLD_FINDINGS):
        con.execute("INSERT INTO findings (run_id, category, severity, order_id, link_id, "
                    "order_amount, order_currency, link_amount, link_currency, difference, "
                    "finding_key, state_digest, account) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?, 'd', 'default')",
                    [category, severity, f"o{i}", f"l{i}", order_amount, order_currency,
                     link_amount, link_currency, difference, f"k{i}"])
    con.close()

    with Warehouse.open(db) as wh:
        attention = needs_attention(wh, ["default"])

    # what needs attention says which money it does not know, and adds only what it knows
    assert attention.unpriced() == 1
    assert attention.at_stake(["critical"]) == [("BTC", 1, Decimal("0.00125")),
                                               ("USDT", 3, Decimal(25))]
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT category, CAST(at_stake AS VARCHAR), at_stake_currency "
                       "FROM findings ORDER BY order_id").fetchall()
    con.close()
    assert rows == [
        ("currency_mismatch", "0.001250000000000000", "BTC"),  # the link's, in its currency
        ("amount_mismatch", "5.000000000000000000", "USDT"),
        ("duplicate_payment", None, "USDT"),  # which links were paid then is not known
        ("paid_but_cancelled", "20.000000000000000000", "USDT"),
        ("missing_link", "30.000000000000000000", "ETH"),
        ("orphan_link", "7.000000000000000000", "USDT")]

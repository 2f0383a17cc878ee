"""Loading orders exports of every shape into a real DuckDB file, exactly."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pik_recon.config import load_config
from pik_recon.errors import InputError
from pik_recon.orders import load_orders
from pik_recon.warehouse import Warehouse
from tests.conftest import invoke_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "orders"


def _load(tmp_path: Path, name: str) -> tuple[object, list[tuple]]:
    toml = FIXTURES / f"{name}.toml"
    config = load_config(config_path=str(toml) if toml.exists() else None, env={})
    with Warehouse.open(tmp_path / "wh.duckdb") as wh:
        result = load_orders(wh, FIXTURES / f"{name}.csv", config.orders)
        rows = wh.fetchall("SELECT order_id, amount, amount_text, currency, status, "
                           "created_at, link_id FROM orders ORDER BY order_id")
    return result, rows


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_default_columns_iso_times_and_exact_amounts(tmp_path: Path) -> None:
    result, rows = _load(tmp_path, "plain_comma")
    assert (result.loaded, result.rejected) == (3, 0)
    assert rows == [
        ("A-1", Decimal("75"), "75.00", "USDT", "paid", utc(2026, 11, 1, 8), "pl_a1"),
        ("A-2", Decimal("1E-18"), "0.000000000000000001", "ETH", "awaiting_payment",
         utc(2026, 11, 1, 8, 30), None),
        ("A-3", Decimal("75"), "75", "USDT", "cancelled", utc(2026, 11, 2), None),
    ]


def test_symbols_thousands_bom_semicolon_zone_and_crypto_filter(tmp_path: Path) -> None:
    result, rows = _load(tmp_path, "symbols_semicolon_bom")
    assert (result.loaded, result.filtered, result.rejected) == (2, 1, 0)
    assert rows == [
        ("B-1", Decimal("1234.50"), "$1,234.50", "USDT", "paid", utc(2026, 11, 1, 14), None),
        ("B-2", Decimal("12345.12345678"), "12,345.12345678 BTC", "BTC", "awaiting_payment",
         utc(2026, 11, 2, 4, 30), None),
    ]


def test_decimal_comma_tab_and_local_dates(tmp_path: Path) -> None:
    result, rows = _load(tmp_path, "decimal_comma_tab")
    assert (result.loaded, result.rejected) == (2, 1)
    assert rows == [
        ("C-1", Decimal("1234.50"), "1.234,50", "USDT", "paid", utc(2026, 11, 24, 9), None),
        ("C-2", Decimal("1E-8"), "0,00000001", "BTC", "awaiting_payment",
         utc(2026, 6, 30, 22, 30), None),
    ]
    reject = result.rejects[0]
    assert (reject.line, reject.column, reject.value) == (4, "Betrag", "12,5O")
    assert reject.reason == "the amount is not a number like 1.234,50"


def test_line_items_take_totals_from_the_first_row(tmp_path: Path) -> None:
    result, rows = _load(tmp_path, "line_items")
    assert (result.rows_read, result.loaded, result.filtered, result.rejected) == (6, 2, 1, 0)
    assert rows == [
        ("D-1", Decimal("150"), "150.00", "USDC", "paid", utc(2026, 11, 3, 8), "pl_d1"),
        ("D-3", Decimal("9.99"), "9.99", "USDT", "awaiting_payment", utc(2026, 11, 3, 10),
         None),
    ]


def test_missing_mapped_column_is_exit_2_listing_the_columns(tmp_path: Path) -> None:
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text("id,total,currency,status,created_at\n1,2,USDT,paid,2026-01-01\n")
    env = {**os.environ, "PIK_RECON_DB": str(tmp_path / "wh.duckdb")}
    done = invoke_cli(["orders", "load", str(csv_file)], env, tmp_path)
    assert done.returncode == 2
    assert "order_id (column 'order_id'); amount (column 'amount')" in done.stderr
    assert "Columns found: 'id', 'total', 'currency', 'status', 'created_at'" in done.stderr


def test_same_file_twice_and_newer_export_supersedes(tmp_path: Path) -> None:
    config = load_config(env={})
    first = tmp_path / "first.csv"
    first.write_text("order_id,amount,currency,status,created_at\n"
                     "X1,10.00,USDT,awaiting_payment,2026-11-01T00:00:00Z\n"
                     "X2,20.00,USDT,awaiting_payment,2026-11-01T00:00:00Z\n")
    os.utime(first, (time.time() - 3600, time.time() - 3600))
    newer = tmp_path / "newer.csv"
    newer.write_text("order_id,amount,currency,status,created_at\n"
                     "X1,10.00,USDT,paid,2026-11-01T00:00:00Z\n")
    with Warehouse.open(tmp_path / "wh.duckdb") as wh:
        assert load_orders(wh, first, config.orders).loaded == 2
        again = load_orders(wh, first, config.orders)
        assert again.already_loaded
        assert load_orders(wh, newer, config.orders).superseded == 0
        older_copy = tmp_path / "older-copy.csv"
        older_copy.write_text(first.read_text() + "\n")
        os.utime(older_copy, (time.time() - 7200, time.time() - 7200))
        older = load_orders(wh, older_copy, config.orders)
        rows = wh.fetchall("SELECT order_id, status FROM orders ORDER BY order_id")
    assert rows == [("X1", "paid"), ("X2", "awaiting_payment")]
    # neither of the older export's rows is what the warehouse holds, and the load says so
    assert (older.loaded, older.superseded) == (2, 2)
    done = invoke_cli(["orders", "load", str(older_copy)],
                      {**os.environ, "PIK_RECON_DB": str(tmp_path / "wh2.duckdb")}, tmp_path)
    assert done.returncode == 0 and "were kept as they were" not in done.stdout
    os.utime(newer, (time.time() - 60, time.time() - 60))
    again = invoke_cli(["orders", "load", str(newer)],
                       {**os.environ, "PIK_RECON_DB": str(tmp_path / "wh2.duckdb")}, tmp_path)
    assert again.returncode == 0, again.stderr
    older_again = invoke_cli(["orders", "load", str(first)],
                             {**os.environ, "PIK_RECON_DB": str(tmp_path / "wh2.duckdb")},
                             tmp_path)
    assert "1 of these orders were kept as they were: an export with a later file time " \
        "holds them already" in older_again.stdout


def test_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("order_id,amount,currency,status,created_at\nÄ1,1,USDT,paid,"
                    "2026-11-01T00:00:00Z\n".encode("latin-1"))
    with Warehouse.open(tmp_path / "wh.duckdb") as wh, pytest.raises(InputError) as caught:
        load_orders(wh, bad, load_config(env={}).orders)
    assert "not UTF-8 text" in str(caught.value)


def test_a_file_read_in_parallel_keeps_every_rows_line(tmp_path: Path) -> None:
    """A file larger than DuckDB's read buffer (32 MB) is parsed in parallel chunks: each row
    still carries its own line, in rejects and in orders.source_line."""
    rows, bad = 420_000, {3, 210_007, 420_001}  # lines of unreadable amounts
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("order_id,amount,currency,status,created_at,link_id,payment_method,"
                 "note\n")
        for n in range(rows):
            line = n + 2
            amount = "12.5O" if line in bad else f"{n}.25"
            fh.write(f"B-{n:07d},{amount},USDT,paid,2026-11-01T08:00:00Z,,crypto,"
                     f"{'x' * 40}\n")
    assert path.stat().st_size > 32 * 2**20
    config = load_config(env={})
    with Warehouse.open(tmp_path / "wh.duckdb") as wh:
        result = load_orders(wh, path, config.orders)
        sample = wh.fetchall("SELECT order_id, source_line, amount_text FROM orders WHERE "
                             "order_id IN ('B-0000000', 'B-0210004', 'B-0419998') "
                             "ORDER BY order_id")
    assert (result.loaded, result.rejected) == (rows - len(bad), len(bad))
    assert [(r.line, r.column, r.value) for r in result.rejects] == [
        (line, "amount", "12.5O") for line in sorted(bad)]
    assert sample == [("B-0000000", 2, "0.25"), ("B-0210004", 210_006, "210004.25"),
                      ("B-0419998", 420_000, "419998.25")]


DECIMAL_COMMA = ("order_id,amount,currency,status,created_at\n"
                 'A1,"12,50",USDT,paid,2026-11-01T10:00:00Z\n'
                 'A2,"1.234,56",USDT,paid,2026-11-01T10:00:00Z\n'
                 'A3,"0,75",USDT,awaiting_payment,2026-11-01T10:00:00Z\n'
                 "A4,-3,USDT,paid,2026-11-01T10:00:00Z\n")


def test_a_file_no_row_of_which_reads_names_the_setting_and_loads_once_it_is_set(
        tmp_path: Path) -> None:
    export = tmp_path / "orders.csv"
    export.write_text(DECIMAL_COMMA, encoding="utf-8")
    (tmp_path / "point.toml").write_text('[orders]\ndecimal_separator = "."\n')
    (tmp_path / "comma.toml").write_text('[orders]\ndecimal_separator = ","\n'
                                         'thousands_separator = "."\n'
                                         "max_rejected_share = 0.25\n")
    env = {**os.environ, "PIK_RECON_DB": str(tmp_path / "wh.duckdb")}

    first = invoke_cli(["--config", str(tmp_path / "point.toml"), "orders", "load", str(export)],
                       env, tmp_path)
    fixed = invoke_cli(["--config", str(tmp_path / "comma.toml"), "orders", "load", str(export)],
                       env, tmp_path)
    again = invoke_cli(["--config", str(tmp_path / "comma.toml"), "orders", "load", str(export)],
                       env, tmp_path)

    assert first.returncode == 2
    assert (f"{export}: 4 of its 4 rows (100.0%) could not be read, more than "
            "max_rejected_share = 0.02 allows; nothing was loaded.") in first.stderr
    assert ("have a decimal comma ('1.234,56'): set decimal_separator = \",\" and "
            'thousands_separator = "." under [orders]') in first.stderr
    assert f"{export} line 5, column 'amount': '-3': the amount must be positive" in (
        first.stderr)
    assert fixed.returncode == 0, fixed.stderr
    assert "4 rows read, 3 orders loaded, 0 left out by the filter, 1 rejected." in fixed.stdout
    assert "already loaded with this mapping" in again.stdout
    with Warehouse.open(tmp_path / "wh.duckdb", read_only=True) as wh:
        assert wh.fetchall("SELECT order_id, amount FROM orders ORDER BY order_id") == [
            ("A1", Decimal("12.5")), ("A2", Decimal("1234.56")), ("A3", Decimal("0.75"))]


def test_a_file_of_one_order_says_one_row_and_one_order(tmp_path: Path) -> None:
    export = tmp_path / "orders.csv"
    export.write_text("order_id,amount,currency,status,created_at\n"
                      "A1,12.50,USDT,paid,2026-11-01T10:00:00Z\n", encoding="utf-8")
    env = {**os.environ, "PIK_RECON_DB": str(tmp_path / "wh.duckdb")}

    done = invoke_cli(["orders", "load", str(export)], env, tmp_path)

    assert done.returncode == 0, done.stderr
    assert f"{export}: 1 row read, 1 order loaded, 0 left out by the filter, 0 rejected." in (
        done.stdout)


def test_mostly_unreadable_times_name_the_date_format(tmp_path: Path) -> None:
    export = tmp_path / "orders.csv"
    export.write_text("order_id,amount,currency,status,created_at\n"
                      "A1,1.00,USDT,paid,24.11.2026 08:30\nA2,2.00,USDT,paid,25.11.2026 09:00\n"
                      "A3,3.00,USDT,paid,2026-11-25T09:00:00Z\n", encoding="utf-8")
    with Warehouse.open(tmp_path / "wh.duckdb") as wh, pytest.raises(InputError) as refused:
        load_orders(wh, export, load_config(env={}).orders)
    assert ("2 of its 3 rows (66.7%) could not be read, more than max_rejected_share = 0.02 "
            "allows; nothing was loaded. The most common reason (2 of them, column "
            "'created_at'): the time is not like 2026-11-24T08:30:00+01:00. Hint: most times "
            "in column 'created_at' look like '24.11.2026 08:30': set date_format = "
            '"%d.%m.%Y %H:%M" under [orders] in pik-recon.toml, then load the file again.'
            ) in str(refused.value)

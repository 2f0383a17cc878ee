"""Export shapes that leave a row's value in doubt: a mapped column named twice in the
header is refused whole; rows without an order id in a line-item export are each rejected."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from pik_recon.config import load_config
from pik_recon.errors import InputError
from pik_recon.orders import load_orders
from pik_recon.warehouse import Warehouse

TIME = "2026-11-01T00:00:00Z"


def test_a_mapped_column_named_twice_is_refused_naming_both_positions(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,amount,currency,status,created_at,amount\n"
                    f"A1,10.00,USDT,paid,{TIME},99.00\n")
    with Warehouse.open(tmp_path / "wh.duckdb") as wh:
        with pytest.raises(InputError) as refused:
            load_orders(wh, path, load_config(env={}).orders)
        stored = wh.fetchone("SELECT (SELECT count(*) FROM orders) + "
                             "(SELECT count(*) FROM order_imports)")
    assert "the header names a mapped column more than once: 'amount' (columns 2, 6)" in (
        str(refused.value))
    assert refused.value.exit_code == 2
    assert stored == (0,)


def test_each_line_item_row_without_an_order_id_is_rejected_with_its_line(
        tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,amount,currency,status,created_at\n"
                    f"A1,10.00,USDT,awaiting_payment,{TIME}\n"
                    "A1,,,,\n"
                    f",20.00,USDT,paid,{TIME}\n"
                    f" ,30.00,USDT,paid,{TIME}\n"
                    f",40.00,USDT,paid,{TIME}\n"
                    f"A2,11.00,USDT,paid,{TIME}\n")
    settings = dataclasses.replace(load_config(env={}).orders, line_items=True,
                                   max_rejected_share=Decimal("0.9"))
    with Warehouse.open(tmp_path / "wh.duckdb") as wh:
        result = load_orders(wh, path, settings)
        stored = wh.fetchall("SELECT order_id, amount FROM orders ORDER BY order_id")
    assert stored == [("A1", Decimal("10")), ("A2", Decimal("11"))]
    assert [(r.line, r.value, r.reason) for r in result.rejects] == [
        (4, None, "the order id is empty"), (5, "", "the order id is empty"),
        (6, None, "the order id is empty")]
    assert (result.rows_read, result.loaded, result.rejected) == (6, 2, 3)


@pytest.mark.parametrize(("date_format", "cells", "expected"), [
    # a date alone is midnight in the configured zone: '-24' is its day, not an offset
    (None, ["2026-11-24", "2026-11-24T00:00:00", "2026-11-24T00:00:00-03:00"],
     ["2026-11-24T05:00:00+00:00", "2026-11-24T05:00:00+00:00", "2026-11-24T03:00:00+00:00"]),
    # a format that reads each time's offset applies no zone on top of it
    ("%d.%m.%Y %H:%M %z", ["24.11.2026 10:00 +0000", "24.11.2026 10:00 +0100"],
     ["2026-11-24T10:00:00+00:00", "2026-11-24T09:00:00+00:00"]),
    ("%d.%m.%Y %H:%M", ["24.11.2026 10:00"], ["2026-11-24T15:00:00+00:00"]),
])
def test_times_are_read_in_the_zone_the_file_or_the_config_gives(
        tmp_path: Path, date_format: str | None, cells: list[str], expected: list[str]) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,amount,currency,status,created_at\n" + "".join(
        f"T{n},10.00,USDT,awaiting_payment,{cell}\n" for n, cell in enumerate(cells)))
    settings = dataclasses.replace(load_config(env={}).orders, timezone="America/New_York",
                                   date_format=date_format)
    with Warehouse.open(tmp_path / "wh.duckdb") as wh:
        result = load_orders(wh, path, settings)
        stored = wh.fetchall("SELECT created_at FROM orders ORDER BY order_id")
    assert result.rejected == 0
    assert [row[0].isoformat() for row in stored] == expected


@pytest.mark.parametrize("date_format", [None, "%Y-%m-%d %H:%M:%S"])
def test_a_time_a_daylight_saving_change_skips_or_repeats_is_read_by_one_rule(
        tmp_path: Path, date_format: str | None) -> None:
    """Europe/Berlin skips 02:00-03:00 on 29 March 2026 and repeats 02:00-03:00 (CEST,
    then CET) on 25 October 2026: a skipped time takes the offset before the change (+01:00),
    a repeated one its second, standard-time occurrence (+01:00)."""
    cells = {"S1": ("2026-03-29 01:59:59", "2026-03-29T00:59:59+00:00"),
             "S2": ("2026-03-29 02:30:00", "2026-03-29T01:30:00+00:00"),
             "S3": ("2026-03-29 03:00:00", "2026-03-29T01:00:00+00:00"),
             "R1": ("2026-10-25 01:59:59", "2026-10-24T23:59:59+00:00"),
             "R2": ("2026-10-25 02:30:00", "2026-10-25T01:30:00+00:00"),
             "R3": ("2026-10-25 03:00:00", "2026-10-25T02:00:00+00:00")}
    path = tmp_path / "orders.csv"
    path.write_text("order_id,amount,currency,status,created_at\n" + "".join(
        f"{order},10.00,USDT,paid,{cell}\n" for order, (cell, _) in cells.items()))
    settings = dataclasses.replace(load_config(env={}).orders, timezone="Europe/Berlin",
                                   date_format=date_format)
    with Warehouse.open(tmp_path / "wh.duckdb") as wh:
        result = load_orders(wh, path, settings)
        stored = dict(wh.fetchall("SELECT order_id, created_at FROM orders"))
    assert result.rejected == 0
    assert {order: t.isoformat() for order, t in stored.items()} == {
        order: utc for order, (_, utc) in cells.items()}


@pytest.mark.parametrize(("date_format", "cell"), [
    # text after a time would be dropped by a cast, reading another instant: rejected
    (None, "2026-11-24 10:00 PM"), (None, "2026-11-24T10:00:00 America/New_York"),
    (None, "2026-11-24 10:00:00 EST"), (None, "2026-11-24T10:00:00 UTC"),
    (None, "2026-11-24 10:00 foo"), (None, "2026-11-24T10:00:00+01:00:30"),
    # no zone is 25 hours from UTC; no order was placed at infinity, in 1970 by default, or
    # in the years 26 and 99999
    (None, "2026-11-24T10:00:00+25:00"), (None, "infinity"), (None, "-infinity"),
    (None, "epoch"), (None, "99999-11-24 10:00"), ("%d.%m.%Y %H:%M", "24.11.26 10:00"),
])
def test_a_time_with_anything_it_does_not_read_is_rejected(
        tmp_path: Path, date_format: str | None, cell: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,amount,currency,status,created_at\n"
                    "T1,10.00,USDT,paid,2026-11-24T10:00:00Z\n"
                    f"T2,10.00,USDT,paid,{cell}\n")
    settings = dataclasses.replace(load_config(env={}).orders, timezone="Europe/Berlin",
                                   date_format=date_format, max_rejected_share=Decimal("0.9"))
    if date_format:  # the good row in the format too
        path.write_text(path.read_text().replace("2026-11-24T10:00:00Z", "24.11.2026 11:00"))
    with Warehouse.open(tmp_path / "wh.duckdb") as wh:
        result = load_orders(wh, path, settings)
        stored = wh.fetchall("SELECT order_id, created_at FROM orders")
    assert [(o, t.isoformat()) for o, t in stored] == [("T1", "2026-11-24T10:00:00+00:00")]
    assert [(r.line, r.column, r.value) for r in result.rejects] == [(3, "created_at", cell)]
    assert result.rejects[0].reason.startswith("the time is not like ")


def test_an_order_id_on_two_rows_rejects_both_even_when_one_is_unreadable(
        tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,amount,currency,status,created_at\n"
                    f"X1,5.00,USDT,paid,{TIME}\n"
                    f"X4,7.00,USDT,paid,{TIME}\n"
                    f"X4,bad,USDT,paid,{TIME}\n"
                    f"X5,8.00,USDT,paid,{TIME}\n"
                    f" X5 ,9.00,USDT,paid,{TIME}\n")
    settings = dataclasses.replace(load_config(env={}).orders, max_rejected_share=Decimal("0.9"))
    with Warehouse.open(tmp_path / "wh.duckdb") as wh:
        result = load_orders(wh, path, settings)
        stored = wh.fetchall("SELECT order_id FROM orders")
    assert stored == [("X1",)]
    repeated = "the order id is on more than one row (lines {}); only a line-item export " \
               "(line_items = true) may repeat it"
    assert [(r.line, r.column, r.reason) for r in result.rejects] == [
        (3, "order_id", repeated.format("3, 4")),
        (4, "amount", "the amount is not a number like 1,234.50"),
        (5, "order_id", repeated.format("5, 6")), (6, "order_id", repeated.format("5, 6"))]


def test_a_line_item_row_without_an_order_id_is_rejected_whatever_the_filter_says(
        tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,amount,currency,status,created_at,method\n"
                    f"A1,10.00,USDT,paid,{TIME},crypto\n"
                    ",,,,,card\n"
                    f"B1,12.00,USD,paid,{TIME},card\n")
    settings = dataclasses.replace(load_config(env={}).orders, line_items=True,
                                   filter_column="method", filter_values=("crypto",),
                                   max_rejected_share=Decimal("0.9"))
    with Warehouse.open(tmp_path / "wh.duckdb") as wh:
        result = load_orders(wh, path, settings)
        stored = wh.fetchall("SELECT order_id FROM orders")
    assert stored == [("A1",)]
    assert [(r.line, r.reason) for r in result.rejects] == [(3, "the order id is empty")]
    assert (result.loaded, result.filtered, result.rejected) == (1, 1, 1)

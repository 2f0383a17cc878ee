"""An orders export is read under one number format, decided before any row is stored: the
configured one, or (decimal_separator = "auto", the default) the one its amounts prove."""

from __future__ import annotations

import csv
import io
import os
import random
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pik_recon.config import load_config
from pik_recon.orders import load_orders
from pik_recon.warehouse import Warehouse
from tests.conftest import invoke_cli, warehouse_rows

HEADER = "order_id;amount;currency;status;created_at\n"
WHEN = "2026-11-01T10:00:00Z"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIK_")}
    env["PIK_RECON_DB"] = str(tmp_path / "wh.duckdb")
    return env


def _german(value: Decimal) -> str:
    """'22.589,79', '23.033': '.' between thousands, ',' before the cents."""
    whole, _, cents = f"{value:f}".partition(".")
    return f"{int(whole):,}".replace(",", ".") + (f",{cents}" if cents else "")


def test_the_issue_s_export_loads_every_row_with_its_exact_amount(tmp_path: Path) -> None:
    """1,200 rows of '22.589,79' and whole thousands like '23.033', no settings: main stored
    57 rows, '23.033' as 23.033, and exited 0."""
    rng = random.Random(5)
    planted = {}
    for n in range(1200):
        whole = rng.randrange(1000, 99_999)
        planted[f"O{n}"] = (Decimal(whole) if n % 21 == 0
                            else Decimal(f"{whole}.{rng.randrange(100):02d}"))
    export = tmp_path / "orders.csv"
    export.write_text(HEADER + "".join(f"{oid};{_german(amount)};USDT;paid;{WHEN}\n"
                                       for oid, amount in planted.items()), encoding="utf-8")
    assert _german(Decimal("23033")) == "23.033" and _german(Decimal("22589.79")) == "22.589,79"

    done = invoke_cli(["orders", "load", str(export)], _env(tmp_path), tmp_path)

    assert done.returncode == 0, done.stderr
    assert "1200 rows read, 1200 orders loaded, 0 left out by the filter, 0 rejected." in (
        done.stdout)
    assert "amounts read with a decimal comma and '.' between thousands." in done.stdout
    stored = dict(warehouse_rows(tmp_path / "wh.duckdb", "SELECT order_id, amount FROM orders"))
    assert stored == planted
    assert sum("," not in _german(amount) for amount in planted.values()) == 58  # '23.033'



@pytest.mark.parametrize(("amounts", "cell", "point", "comma"), [
    (("23.033", "75", "1.250"), "23.033", "23.033", "23033"),
    (('"1,234"', "9", '"12,500"'), "1,234", "1234", "1.234"),
])
def test_amounts_that_read_two_ways_and_nothing_settles_are_refused_naming_the_setting(
        tmp_path: Path, amounts: tuple[str, ...], cell: str, point: str, comma: str) -> None:
    export = tmp_path / "orders.csv"
    export.write_text("order_id,amount,currency,status,created_at\n" + "".join(
        f"A{n},{amount},USDT,paid,{WHEN}\n" for n, amount in enumerate(amounts)),
        encoding="utf-8")
    (tmp_path / "comma.toml").write_text('[orders]\ndecimal_separator = ","\n'
                                         'thousands_separator = "."\n')

    refused = invoke_cli(["orders", "load", str(export)], _env(tmp_path), tmp_path)
    configured = invoke_cli(["--config", str(tmp_path / "comma.toml"), "orders", "load",
                             str(export)], _env(tmp_path), tmp_path)

    assert refused.returncode == 2
    assert refused.stderr.startswith(
        f"Error: {export} line 2, column 'amount': '{cell}' is {point} with a decimal point "
        f"and {comma} with a decimal comma, and no amount in the file settles which (2 amounts "
        "read two ways); nothing was loaded. To read it, set decimal_separator = \".\" or "
        "\",\"")
    assert configured.returncode == 0, configured.stderr
    stored = warehouse_rows(tmp_path / "wh.duckdb",
                            "SELECT order_id, amount_text, amount FROM orders ORDER BY 1")
    assert stored[0] == ("A0", cell, Decimal(comma))
    assert warehouse_rows(tmp_path / "wh.duckdb", "SELECT count(*) FROM order_imports") == [(1,)]


def test_a_file_whose_amounts_prove_both_formats_is_refused(tmp_path: Path) -> None:
    export = tmp_path / "orders.csv"
    export.write_text(HEADER + f"A1;75;USDT;paid;{WHEN}\nA2;0.5;USDT;paid;{WHEN}\n"
                      f"A3;1.234,50;USDT;paid;{WHEN}\n", encoding="utf-8")

    done = invoke_cli(["orders", "load", str(export)], _env(tmp_path), tmp_path)

    assert done.returncode == 2
    assert (f"{export}: the amounts in column 'amount' are written in two number formats: line "
            "3 '0.5' has a decimal point, line 4 '1.234,50' a decimal comma; nothing was "
            "loaded.") in done.stderr
    assert "decimal_separator" in done.stderr
    assert warehouse_rows(tmp_path / "wh.duckdb", "SELECT count(*) FROM order_imports") == [(0,)]


def test_a_configured_thousands_mark_decides_the_format_and_settles_23_033(
        tmp_path: Path) -> None:
    """decimal_separator = "auto" with thousands_separator = ".": only a decimal comma is
    left, so '23.033' is 23033 with nothing else in the file to prove it."""
    export = tmp_path / "orders.csv"
    export.write_text(HEADER + f"A1;23.033;USDT;paid;{WHEN}\n", encoding="utf-8")
    (tmp_path / "dots.toml").write_text('[orders]\nthousands_separator = "."\n')

    done = invoke_cli(["--config", str(tmp_path / "dots.toml"), "orders", "load", str(export)],
                      _env(tmp_path), tmp_path)

    assert done.returncode == 0, done.stderr
    assert warehouse_rows(tmp_path / "wh.duckdb", "SELECT amount FROM orders") == [
        (Decimal(23033),)]


# An amount as a shop writes it: its digits (never all zeros), the format's marks, grouped or
# not, with a currency symbol or code before or after (or neither), and the row's currency
# that symbol or code stands for.
WHOLE = st.integers(0, 10**20 - 1)
FRACTION = st.integers(0, 18).flatmap(
    lambda scale: st.tuples(st.just(scale), st.integers(0, 10**scale - 1)))
CURRENCY_OF = {"": "USDT", "$": "USDT", "€ ": "EUR", "USDT ": "USDT", " BTC": "BTC",
               "₮": "USDT", " EUR": "EUR"}
AMOUNTS = st.tuples(WHOLE, FRACTION, st.booleans(), st.sampled_from(sorted(CURRENCY_OF)),
                    st.booleans()).filter(lambda a: a[0] or a[1][1])


def _written(whole: int, scale: int, digits: int, grouped: bool, comma: bool) -> str:
    mark, thousands = (",", ".") if comma else (".", ",")
    text = f"{whole:,}".replace(",", thousands) if grouped else str(whole)
    return text + (f"{mark}{digits:0{scale}d}" if scale else "")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans(), st.lists(AMOUNTS, min_size=1, max_size=15))
def test_any_amount_in_either_format_reads_back_exactly_when_the_file_proves_it(
        comma: bool, amounts: list[tuple[int, tuple[int, int], bool, str, bool]]) -> None:
    expected, cells = {"P0": Decimal("0.5")}, {"P0": ("0,5" if comma else "0.5", "USDT")}
    for n, (whole, (scale, digits), grouped, symbol, before) in enumerate(amounts):
        number = _written(whole, scale, digits, grouped, comma)
        cells[f"A{n}"] = (f"{symbol}{number}" if before else f"{number}{symbol}",
                          CURRENCY_OF[symbol])
        expected[f"A{n}"] = Decimal(f"{whole}.{digits:0{scale}d}" if scale else whole)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if comma else ",")
    writer.writerow(["order_id", "amount", "currency", "status", "created_at"])
    writer.writerows([oid, cell, currency, "paid", WHEN]
                     for oid, (cell, currency) in cells.items())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        path.write_text(out.getvalue(), encoding="utf-8")
        with Warehouse.open(Path(tmp) / "wh.duckdb") as wh:
            result = load_orders(wh, path, load_config(env={}).orders)
            stored = dict(wh.fetchall("SELECT order_id, amount FROM orders"))
    assert result.rejected == 0
    assert stored == expected

"""exact_sum: money sums past DECIMAL(38, 18)'s 20 integer digits stay exact, as text."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pik_recon.warehouse import Warehouse

AMOUNTS = """SELECT * FROM (VALUES
    ('a', 99999999999999999999.999999999999999999::DECIMAL(38, 18)),
    ('a', 99999999999999999999.000000000000000001::DECIMAL(38, 18)),
    ('a', 0.5::DECIMAL(38, 18)),
    ('b', 0.000000000000000001::DECIMAL(38, 18)),
    ('b', 1.25::DECIMAL(38, 18)),
    ('c', NULL::DECIMAL(38, 18))) AS t(g, amount)"""


def test_sums_past_twenty_digits_are_exact_and_read_as_decimals(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "wh.duckdb") as warehouse:
        rows = warehouse.fetchall(
            f"SELECT g, exact_sum(amount) FROM ({AMOUNTS}) GROUP BY g ORDER BY g")
        over = warehouse.fetchone(f"SELECT exact_sum(amount) FROM ({AMOUNTS})")
    assert rows == [("a", "199999999999999999999.500000000000000000"),
                    ("b", "1.250000000000000001"), ("c", None)]
    assert over == ("200000000000000000000.750000000000000001",)
    assert Decimal(rows[0][1]) == Decimal("199999999999999999999.5")

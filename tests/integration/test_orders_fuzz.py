"""Random cell contents never crash the loader; every row loads or is rejected with a reason,
and a file no row of which reads is refused whole, storing nothing."""

from __future__ import annotations

import csv
import dataclasses
import io
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pik_recon.config import load_config
from pik_recon.errors import InputError
from pik_recon.orders import load_orders
from pik_recon.warehouse import Warehouse

CELLS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "=1+1", "+SUM(A1)", "-2", "@cmd", '"quoted"', "a\nb", "1,5", "€7",
                     "12.345,67", "NaN", "1e5", "9" * 40, "0." + "0" * 30 + "1"]),
    st.integers(5_000, 3_000_000).map(lambda n: "9" * n),
)
VALID = ["O1", "75.00", "USDT", "paid", "2026-11-01T00:00:00Z"]
# One configured number format (the auto rule refuses a file of both, tested on its own),
# and any share of rejects but all of them.
CONFIG = dataclasses.replace(load_config(env={}).orders, decimal_separator=".",
                             max_rejected_share=Decimal("0.99"))


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new warehouse, migrated once: each example loads into a copy of it."""
    path = tmp_path_factory.mktemp("migrated") / "wh.duckdb"
    Warehouse.open(path).close()
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations=st.lists(st.tuples(st.integers(0, 4), CELLS), min_size=1, max_size=12))
def test_random_cells_load_or_are_rejected(migrated: Path,
                                           mutations: list[tuple[int, str]]) -> None:
    rows = []
    for index, (column, cell) in enumerate(mutations):
        row = [f"O{index}", *VALID[1:]]
        row[column] = cell if column else f"O{index}{cell}"
        rows.append(row)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["order_id", "amount", "currency", "status", "created_at"])
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        path.write_text(out.getvalue(), encoding="utf-8")
        shutil.copy(migrated, Path(tmp) / "wh.duckdb")
        with Warehouse.open(Path(tmp) / "wh.duckdb") as wh:
            try:
                result = load_orders(wh, path, CONFIG)
            except InputError as refused:
                nothing = wh.fetchone("SELECT (SELECT count(*) FROM orders) + (SELECT count(*) "
                                      "FROM order_rejects) + (SELECT count(*) FROM "
                                      "order_imports)")[0]
                assert nothing == 0
                assert f"{len(rows)} of its {len(rows)} rows (100.0%) could not be read" in (
                    str(refused))
                assert refused.problems and all(" line " in p for p in refused.problems)
                return
            stored = wh.fetchone("SELECT count(*) FROM orders")[0]
            rejected = wh.fetchone("SELECT count(*) FROM order_rejects")[0]
    assert result.loaded > 0
    assert result.rows_read == len(rows)
    assert result.loaded + result.rejected == len(rows)
    assert (stored, rejected) == (result.loaded, result.rejected)
    assert all(r.reason and r.line >= 2 for r in result.rejects)

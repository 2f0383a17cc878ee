"""An export with a quote never closed is refused whole: no row after it is lost unnamed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pik_recon.config import load_config
from pik_recon.errors import InputError
from pik_recon.orders import load_orders
from pik_recon.warehouse import Warehouse

HEADER = "order_id,amount,currency,status,created_at\n"


def test_a_quote_never_closed_refuses_the_file_and_stores_nothing(tmp_path: Path) -> None:
    rows = [f"BQ{i},10.00,USDT,awaiting_payment,2026-11-01T00:00:00Z\n" for i in range(1, 98)]
    rows += ['BQ98,"11.00,USDT,awaiting_payment,2026-11-01T00:00:00Z\n',
             "BQ99,12.00,USDT,awaiting_payment,2026-11-01T00:00:00Z\n",
             "BQ100,13.00,USDT,awaiting_payment,2026-11-01T00:00:00Z\n"]
    export = tmp_path / "orders.csv"
    export.write_text(HEADER + "".join(rows), encoding="utf-8")
    with Warehouse.open(tmp_path / "wh.duckdb") as warehouse:
        with pytest.raises(InputError) as refused:
            load_orders(warehouse, export, load_config(env={}).orders)
        stored = warehouse.fetchone("SELECT (SELECT count(*) FROM orders), "
                                    "(SELECT count(*) FROM order_imports)")
    assert f"{export} line 99: not readable as CSV" in str(refused.value)
    assert stored == (0, 0)

"""An amount's currency symbol or code must agree with the row's currency, and an amount of
zero is no amount to pay: both are rejected rows naming what was wrong, never stored."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

from pik_recon.config import load_config
from pik_recon.orders import load_orders
from pik_recon.warehouse import Warehouse

TIME = "2026-11-01T00:00:00Z"
# (order id, amount cell, currency cell, the reason it is rejected for, or None: stored as)
ROWS = [
    ("C1", "5 BTC", "USDT", "the amount is written in BTC, not in the currency USDT"),
    ("C2", "$5.00", "USDT", Decimal("5")),
    ("C3", "5 usdt", "USDT", Decimal("5")),
    ("C4", "€5", "USD", "the amount is written in €, not in the currency USD"),
    ("C5", "₿0.5", "BTC", Decimal("0.5")),
    ("C6", "ETH 12.5", "eth", Decimal("12.5")),
    ("C7", "$5 BTC", "BTC", "the amount is written in $ and BTC, not in the currency BTC"),
    ("C8", "Ξ2", "BTC", "the amount is written in Ξ, not in the currency BTC"),
    ("C9", "0", "USDT", "the amount must be positive"),
    ("C10", "0.00", "USDT", "the amount must be positive"),
    ("C11", "$0.00", "USD", "the amount must be positive"),
    ("C12", "0.000000000000000001", "ETH", Decimal("1E-18")),
    ("C13", "£7", "GBP", Decimal("7")),
]


def test_marks_that_disagree_with_the_currency_and_zero_amounts_are_rejected(
        tmp_path: Path) -> None:
    lines = ["order_id,amount,currency,status,created_at",
             *(f'{oid},"{amount}",{currency},paid,{TIME}' for oid, amount, currency, _ in ROWS)]
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = dataclasses.replace(load_config(env={}).orders, max_rejected_share=Decimal("0.9"))
    with Warehouse.open(tmp_path / "wh.duckdb") as wh:
        result = load_orders(wh, path, settings)
        stored = dict(wh.fetchall("SELECT order_id, amount FROM orders"))
        kept = wh.fetchall("SELECT line, column_name, value, reason FROM order_rejects "
                           "ORDER BY line")
    expected_rejects = [(line, "amount", amount, reason)
                        for line, (_, amount, _, reason) in enumerate(ROWS, start=2)
                        if isinstance(reason, str)]
    assert [(r.line, r.column, r.value, r.reason) for r in result.rejects] == expected_rejects
    assert kept == expected_rejects
    assert stored == {oid: want for oid, _, _, want in ROWS if isinstance(want, Decimal)}

"""bulk._same: which link on PIK answers a row whose POST got no answer."""

from __future__ import annotations

from typing import Any

import pytest

from pik_recon.creation.bulk import CreateRow, _same

ROW = CreateRow(line=2, order_id="A1", amount_text="10.50", currency="USDT",
                description="Order #A1")


@pytest.mark.parametrize(("amount", "expected"), [
    ("10.50", True),
    ("10.5", True),        # the same decimal, written without the trailing zero
    ("10.500000000000000001", False),
    (10.5, False),         # a JSON number arrives as a float: never compared as money
    ("abc", False),
    (None, False),
])
def test_the_amount_must_be_the_same_decimal_string(amount: Any, expected: bool) -> None:
    item = {"id": "pl_1", "amount": amount, "currency": "USDT", "description": "Order #A1"}
    assert _same(item, ROW) is expected


def test_currency_and_description_must_match_too() -> None:
    item = {"id": "pl_1", "amount": "10.50", "currency": "USDC", "description": "Order #A1"}
    assert not _same(item, ROW)
    assert not _same({**item, "currency": "USDT", "description": "Order #A2"}, ROW)
    assert not _same(["not", "a", "link"], ROW)

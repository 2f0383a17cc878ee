"""How a refused acknowledgement names what a finding said then and says now."""

from __future__ import annotations

from decimal import Decimal

from pik_recon.findings import SAID, _what_changed


def _said(**fields: object) -> tuple[object, ...]:
    base = {"order_amount": Decimal("1.000000000000000001"), "order_currency": "ETH",
            "link_amount": Decimal("1.000000000000000000"), "link_currency": "ETH",
            "order_status": "paid", "link_status": "paid", "link_ids": "pl_1",
            "received_amount": None, "transaction_ids": None, "description": "Order #A"}
    return tuple({**base, **fields}[name] for name in SAID)


def test_a_change_in_the_eighteenth_decimal_is_shown_digit_for_digit() -> None:
    then = _said()
    now = _said(order_amount=Decimal("1.000000000000000002"))
    assert _what_changed(then, now) == ("order amount 1.000000000000000001 ETH, "
                                        "now 1.000000000000000002 ETH")


def test_every_change_is_named_and_an_absent_value_reads_none() -> None:
    then = _said()
    now = _said(link_status="expired", received_amount=Decimal("0.5"), link_ids="pl_1;pl_2")
    assert _what_changed(then, now) == ("money received none, now 0.500000000000000000 ETH; "
                                        "link status paid, now expired; links pl_1, now "
                                        "pl_1;pl_2")

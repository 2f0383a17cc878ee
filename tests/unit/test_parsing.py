"""Amounts, link and transaction records, and WHEN forms."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pik_recon.links import Rejected, parse_link
from pik_recon.money import parse_amount
from pik_recon.transactions import parse_transaction
from pik_recon.whenparse import ACCEPTED_FORMS, parse_when

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


@given(st.decimals(min_value=Decimal("0"), max_value=Decimal("1e19"), places=18,
                   allow_nan=False, allow_infinity=False))
def test_amount_text_parses_to_the_same_decimal(value: Decimal) -> None:
    text = format(value, "f")
    assert parse_amount(text) == value
    assert str(parse_amount(text)) == str(Decimal(text))


@pytest.mark.parametrize(("text", "reason"), [
    ("abc", "is not a decimal number"), ("NaN", "not a finite"),
    ("0.0000000000000000001", "more than 18 decimals"), ("1" * 21, "too large"),
])
def test_bad_amounts(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_amount(text)


def test_parse_link_keeps_text_and_normalises_time() -> None:
    row = parse_link({"id": "pl_1", "amount": "75.00", "currency": "USDT", "status": "paid",
                      "created_at": "2026-11-01T08:00:00Z", "paid_at": "2026-11-01T09:00:00Z",
                      "brand_new_field": 1}, "paid")
    assert row == ("pl_1", None, "75.00", "USDT", None, "paid", "2026-11-01T08:00:00+00:00",
                   "2026-11-01T09:00:00+00:00")


@pytest.mark.parametrize("amount", ["75", "75.00", "0.00000001", "0.5",
                                    "12345678901234567890.123456789012345678"])
def test_parse_link_takes_plain_positive_decimals(amount: str) -> None:
    row = parse_link({"id": "pl_1", "amount": amount, "currency": "ETH", "status": "paid",
                      "created_at": "2026-11-01T08:00:00Z"}, "paid")
    assert not isinstance(row, Rejected)
    assert row[2] == amount


@pytest.mark.parametrize(("amount", "reason"), [
    ("-7.00", "is not a plain positive decimal"), ("1e3", "is not a plain positive decimal"),
    ("+5", "is not a plain positive decimal"), (" 5", "is not a plain positive decimal"),
    (".5", "is not a plain positive decimal"), ("5.", "is not a plain positive decimal"),
    ("٣", "is not a plain positive decimal"), ("0", "is not positive"),
    ("0.000", "is not positive"), ("-0", "is not a plain positive decimal"),
])
def test_parse_link_quarantines_other_amounts(amount: str, reason: str) -> None:
    rejected = parse_link({"id": "pl_1", "amount": amount, "currency": "USDT",
                           "status": "paid", "created_at": "2026-11-01T08:00:00Z"}, "paid")
    assert isinstance(rejected, Rejected)
    assert rejected.reason.startswith(f"amount {amount!r} {reason}")


def test_parse_link_rejects_naive_times() -> None:
    rejected = parse_link({"id": "pl_1", "amount": "1", "currency": "USDT", "status": "paid",
                           "created_at": "2026-11-01T08:00:00"}, "paid")
    assert isinstance(rejected, Rejected)
    assert rejected.reason == "created_at '2026-11-01T08:00:00' has no time zone"


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-01T08:00:00+01:00", datetime(2026, 11, 1, 7, tzinfo=UTC)),
    ("today", datetime(2026, 11, 24, tzinfo=UTC)),
    ("yesterday", datetime(2026, 11, 23, tzinfo=UTC)),
    ("7d", datetime(2026, 11, 17, 15, 30, tzinfo=UTC)),
    ("36h", datetime(2026, 11, 23, 3, 30, tzinfo=UTC)),
])
def test_when_forms(text: str, expected: datetime) -> None:
    assert parse_when(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["last week", "2026-13-01", "7w", ""])
def test_bad_when_lists_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_when(text, now=NOW)
    assert ACCEPTED_FORMS in str(caught.value)


TXN = {"id": "txn_3f1c9a0b2e7d4c5a6b8e9f01", "payment_link_id": "pl_x7k2", "amount": "75.00",
       "currency": "USDT", "status": "settled", "tx_hash": "0x5537",
       "created_at": "2026-11-01T10:04:00.000000Z", "confirmed_at": "2026-11-01T10:05:00Z",
       "settled_at": "2026-11-01T11:05:00+00:00"}


def test_parse_transaction_keeps_text_and_normalises_times() -> None:
    row = parse_transaction({**TXN, "brand_new_field": 1}, None)
    assert row == ("txn_3f1c9a0b2e7d4c5a6b8e9f01", "pl_x7k2", "75.00", "USDT", "settled",
                   "0x5537", "2026-11-01T10:04:00+00:00", "2026-11-01T10:05:00+00:00",
                   "2026-11-01T11:05:00+00:00")
    pending = parse_transaction({**TXN, "status": "pending", "confirmed_at": None,
                                 "settled_at": None, "tx_hash": None}, "pending")
    assert not isinstance(pending, Rejected)
    assert pending[4:] == ("pending", None, "2026-11-01T10:04:00+00:00", None, None)


@pytest.mark.parametrize(("change", "reason"), [
    ({"id": None}, "missing id"),
    ({"id": "pl_x7k2"}, "id 'pl_x7k2' is not a transaction's (txn_...)"),
    ({"id": "txn_"}, "id 'txn_' is not a transaction's (txn_...)"),
    ({"amount": "-75.00"}, "amount '-75.00' is not a plain positive decimal"),
    ({"amount": "0.00"}, "amount '0.00' is not positive"),
    ({"amount": 75}, "amount must be a decimal string, got int"),
    ({"currency": ""}, "missing currency"),
    ({"status": "refunded"}, "unknown status 'refunded'"),
    ({"payment_link_id": 7}, "payment_link_id must be a string"),
    ({"tx_hash": ["0x1"]}, "tx_hash must be a string"),
    ({"created_at": "2026-11-01T10:04:00"}, "created_at '2026-11-01T10:04:00' has no time zone"),
    ({"confirmed_at": "yesterday"}, "confirmed_at 'yesterday' is not an ISO 8601 time"),
    ({"settled_at": 1700000000}, "settled_at must be an ISO 8601 string"),
])
def test_parse_transaction_quarantines_what_is_not_pik_form(change: dict, reason: str) -> None:
    rejected = parse_transaction({**TXN, **change}, "settled")
    assert isinstance(rejected, Rejected)
    assert rejected.reason.startswith(reason)
    assert rejected.listed_status == "settled"
    assert json.loads(rejected.record) == {**TXN, **change}
    assert rejected.record_id == change.get("id", TXN["id"])  # None when it gave none

"""Amounts and times as the report's readers see them.

Two ways to write an amount, neither ever rounded:
- `exact` for files machines and spreadsheets import (CSV, JSON): a plain decimal, padded
  to the currency's usual decimals, with every decimal the amount has beyond them;
- `money` for people (HTML, the terminal): the same digits, thousands grouped, and the
  currency beside them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pik_recon.money import EXACT, currency_decimals

DISPLAY_DECIMALS = {"USDT": 2, "USDC": 2, "USD": 2, "EUR": 2, "DAI": 2}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FLOAT_DIGITS = 15  # significant digits a spreadsheet's number (a double) always keeps


def display_decimals(currency: str | None) -> int:
    """The decimals an amount of this currency is usually written with."""
    code = (currency or "").upper()
    return DISPLAY_DECIMALS.get(code, currency_decimals(code))


def decimals(value: Decimal, currency: str | None) -> int:
    """How many decimals `value` shows: its currency's, or its own when it has more."""
    return shape(value, currency)[0]


def shape(value: Decimal, currency: str | None) -> tuple[int, int]:
    """The decimals `value` shows (as `decimals` says) and its significant digits, read
    from one normalization."""
    shown = value.normalize(EXACT).as_tuple()
    own = -shown.exponent if isinstance(shown.exponent, int) and shown.exponent < 0 else 0
    return max(display_decimals(currency), own), len(shown.digits)


def exact(value: Decimal | None, currency: str | None) -> str:
    """A plain decimal, never rounded: '1234.50', '0.000000000000000001'."""
    if value is None:
        return ""
    return format(value.quantize(Decimal(1).scaleb(-decimals(value, currency)), context=EXACT),
                  "f")


def grouped(value: Decimal, currency: str | None) -> str:
    """The exact digits with thousands grouped: '1,234,567.50'."""
    return format(value.quantize(Decimal(1).scaleb(-decimals(value, currency)), context=EXACT),
                  ",f")


def money(value: Decimal | None, currency: str | None) -> str:
    """For people: '1,234,567.50 USDT'."""
    if value is None:
        return ""
    return f"{grouped(value, currency)} {currency or ''}".rstrip()


def when(moment: datetime | None, zone: ZoneInfo) -> str:
    """A time for people, to the minute, in the report's zone: '1 Dec 2026 07:56 CET'."""
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %Y %H:%M} {local.tzname()}"


def neutralise(value: Any) -> Any:
    """Text from outside must not run as a formula in a spreadsheet: prefix a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value

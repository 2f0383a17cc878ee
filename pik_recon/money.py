"""Exact amounts: parse, validate and format decimals without ever touching float."""

from __future__ import annotations

import re
from decimal import Context, Decimal, InvalidOperation

# Decimals each asset allows; unknown codes fall back to 18 (the widest on PIK).
CURRENCY_DECIMALS: dict[str, int] = {
    "BTC": 8,
    "ETH": 18,
    "USDT": 6,
    "USDC": 6,
    "LTC": 8,
    "TRX": 6,
    "SOL": 9,
    "BNB": 18,
    "DAI": 18,
    "DOGE": 8,
    "XRP": 6,
    "TON": 9,
    "USD": 2,
    "EUR": 2,
}
# The assets PIK accepts for a new payment link.
PIK_CURRENCIES = ("USDT", "USDC", "BTC", "ETH", "LTC", "TRX", "SOL", "TON", "DOGE")
MAX_SCALE = 18
MAX_INTEGER_DIGITS = 20  # DECIMAL(38,18)
# Decimal arithmetic and formatting in Python round to their context's precision, 28 digits
# by default, short of DECIMAL(38,18)'s 38: amounts are added, normalized and quantized in
# this one, wide enough for any sum of them.
EXACT = Context(prec=80)
# PIK's amount as its docs show it ("75.00", "75", "0.00000001"): ASCII digits, optionally a
# point and decimals; no sign, exponent, space or bare point. The sync's stage queries
# (sql/queries/links/stage.sql, sql/queries/transactions/stage.sql) hold the same form.
PLAIN_AMOUNT = re.compile(r"[0-9]{1,20}(\.[0-9]{1,18})?")


def parse_amount(text: object) -> Decimal:
    """Parse an API amount string exactly; raise ValueError with a reason otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"amount must be a decimal string, got {type(text).__name__}")
    stripped = text.strip()
    try:
        value = Decimal(stripped)
    except InvalidOperation:
        raise ValueError(f"amount {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError(f"amount {text!r} is not a finite number")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > MAX_SCALE:
        raise ValueError(f"amount {text!r} has more than {MAX_SCALE} decimals")
    if value.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(f"amount {text!r} is too large")
    return value


def parse_plain_amount(text: object) -> Decimal:
    """Parse an amount PIK sent (a link's, a transaction's): a plain positive decimal
    string, nothing else; raise ValueError with a reason otherwise."""
    value = parse_amount(text)
    assert isinstance(text, str)
    if not PLAIN_AMOUNT.fullmatch(text):
        raise ValueError(f"amount {text!r} is not a plain positive decimal (digits, "
                         "optionally a point and decimals, e.g. '75.00')")
    if value <= 0:
        raise ValueError(f"amount {text!r} is not positive")
    return value


def currency_decimals(currency: str) -> int:
    return CURRENCY_DECIMALS.get(currency.upper(), MAX_SCALE)

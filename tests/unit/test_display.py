"""display.py and the report's Python sums: DECIMAL(38,18)'s 38 digits, never rounded to the
28 a default decimal context keeps."""

from __future__ import annotations

from decimal import Decimal

from pik_recon.report.display import exact, money
from pik_recon.report.figures import Stake

WIDE = "12345678901.123456789012345678"  # 29 significant digits


def test_an_amount_past_28_digits_is_written_whole() -> None:
    assert exact(Decimal(WIDE), "ETH") == WIDE
    assert exact(Decimal(WIDE), "USDT") == WIDE
    assert money(Decimal(WIDE), "USDT") == "12,345,678,901.123456789012345678 USDT"


def test_the_widest_amount_pads_to_an_unknown_currency_s_18_decimals() -> None:
    assert exact(Decimal("99999999999999999999.9"), "VND") == (
        "99999999999999999999.900000000000000000")
    assert exact(Decimal("-99999999999999999999.999999999999999999"), None) == (
        "-99999999999999999999.999999999999999999")


def test_money_at_stake_adds_up_to_the_last_decimal() -> None:
    stake = Stake("ETH", 1, 1, Decimal(WIDE), Decimal("0.000000000000000001"))
    assert stake.amount == Decimal("12345678901.123456789012345679")

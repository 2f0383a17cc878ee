"""Amounts round-trip exactly: text as sent, DECIMAL(38,18) equal to the exact decimal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState
from tests.conftest import cli_env, invoke_cli, warehouse_rows

CASES = [("0.000000000000000001", "ETH"), ("75", "USDT"), ("75.00", "USDT"),
         ("0.00000001", "BTC"), ("12345678901234567890.123456789012345678", "ETH"),
         ("999999.999999", "USDC")]


def test_amounts_round_trip_exactly(sandbox: SandboxServer, sandbox_state: SandboxState,
                                    workdir: Path) -> None:
    with sandbox_state.lock:
        ids = {sandbox_state.create(amount, currency, f"amount {amount}").id: amount
               for amount, currency in CASES}
    done = invoke_cli(["sync"], cli_env(workdir, sandbox.base_url), workdir)
    assert done.returncode == 0, done.stderr

    every = warehouse_rows(workdir / "wh.duckdb",
                           "SELECT id, amount_text, amount, typeof(amount) FROM payment_links")
    rows = [r for r in every if r[0] in ids]  # the rest were added by the sandbox's drift
    assert {r[0]: r[1] for r in rows} == ids
    for link_id, _, amount, kind in rows:
        assert kind == "DECIMAL(38,18)"
        assert amount == Decimal(ids[link_id])
        assert isinstance(amount, Decimal)
    assert all(amount == Decimal(text) for _, text, amount, _ in every)
    by_text = {r[1]: r[2] for r in rows}
    assert by_text["75"] == by_text["75.00"] == Decimal("75")
    assert by_text["0.000000000000000001"] == Decimal("1E-18")

"""Sums a finding stores, of amounts at DECIMAL(38, 18)'s 20 integer digits: what fits is
stored exactly; what cannot fit stops the reconcile with the sum named, storing nothing,
never a rounded or wrapped amount. Synced from the sandbox over HTTP, reconciled by the CLI."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from pik_recon.sandbox.payments import transaction_from_record
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, load_links
from tests.conftest import CliRun, cli_env, invoke_cli, warehouse_rows

BIG = "99999999999999999999.5"  # 20 integer digits: two of them add up to 21
SIXTY = "60000000000000000000"


def _link(link_id: str, amount: str, description: str) -> dict[str, str]:
    return {"id": link_id, "url": f"https://pay.pik.global/l/{link_id}", "amount": amount,
            "currency": "USDT", "description": description, "status": "paid",
            "created_at": "2026-11-01T10:00:00Z", "paid_at": f"2026-11-01T10:0{link_id[-1]}:00Z"}


def _money(tx_id: str, link_id: str, amount: str) -> dict[str, str]:
    return {"id": tx_id, "payment_link_id": link_id, "amount": amount, "currency": "USDT",
            "status": "settled", "created_at": "2026-11-01T10:00:00Z",
            "confirmed_at": "2026-11-01T10:01:00Z", "settled_at": "2026-11-01T10:30:00Z",
            "tx_hash": f"hash_{tx_id}"}


def _sync_and_reconcile(sandbox: SandboxServer, state: SandboxState, workdir: Path,
                        links: list[dict[str, str]], transactions: list[dict[str, str]],
                        order: str) -> CliRun:
    """PIK holding these paid links and their money, synced; then `reconcile --orders` of
    one paid order (`id,amount,currency`)."""
    with state.lock:
        load_links(state, links)
        state.transactions.add_many([transaction_from_record(t) for t in transactions])
    env = cli_env(workdir, sandbox.base_url)
    synced = invoke_cli(["sync"], env, workdir)
    assert synced.returncode == 0, synced.stderr
    return invoke_cli(["reconcile", "--orders", str(_orders(workdir, [order]))], env, workdir)


def _orders(workdir: Path, rows: list[str]) -> Path:
    path = workdir / "orders.csv"
    path.write_text("order_id,amount,currency,status,created_at\n"
                    + "".join(f"{row},paid,2026-11-01T09:00:00Z\n" for row in rows))
    return path


def test_two_paid_links_of_twenty_digits_on_one_order_are_a_duplicate_payment(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    done = _sync_and_reconcile(
        sandbox, sandbox_state, workdir,
        [_link("pl_big1", BIG, "Order #BIG"), _link("pl_big2", BIG, "Order #BIG")],
        [_money("txn_big1", "pl_big1", BIG), _money("txn_big2", "pl_big2", BIG)],
        f"BIG,{BIG},USDT")
    assert done.returncode == 0, done.stderr
    assert warehouse_rows(workdir / "wh.duckdb", "SELECT category, link_ids, at_stake FROM "
                          "findings WHERE order_id = 'BIG'") == [
        ("duplicate_payment", "pl_big1;pl_big2", Decimal(BIG))]


def test_money_on_one_link_past_twenty_digits_stops_the_reconcile_naming_the_sum(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    done = _sync_and_reconcile(
        sandbox, sandbox_state, workdir, [_link("pl_sixty1", SIXTY, "Order #S")],
        [_money("txn_s1", "pl_sixty1", SIXTY), _money("txn_s2", "pl_sixty1", SIXTY)],
        f"S,{SIXTY},USDT")
    assert done.returncode == 5, done.stdout
    assert ("the transactions received on link pl_sixty1 add up to "
            "120000000000000000000.000000000000000000, past the 20 integer digits") in (
        done.stderr)
    assert "Traceback" not in done.stderr
    assert warehouse_rows(workdir / "wh.duckdb", "SELECT (SELECT count(*) FROM findings) + "
                          "(SELECT count(*) FROM reconcile_runs)") == [(0,)]


def test_open_money_past_twenty_digits_adds_up_exactly_in_what_needs_attention(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    env = cli_env(workdir, sandbox.base_url)
    assert invoke_cli(["sync"], env, workdir).returncode == 0
    # two paid orders of 20 integer digits and 18 decimals without a link, in a currency no
    # link of the sandbox has: their money at stake adds up to 21 integer digits (past what
    # DuckDB's own sum of DECIMAL(38, 18) holds) and 39 significant ones (past Python's
    # default 28)
    orders = _orders(workdir, ["BIG1,99999999999999999999.000000000000000001,PAXG",
                               "BIG2,99999999999999999999.000000000000000002,PAXG"])
    done = invoke_cli(["reconcile", "--orders", str(orders)], env, workdir)
    assert done.returncode == 0, done.stderr
    status = invoke_cli(["--log-format", "json", "status"], env, workdir)
    assert status.returncode == 0, status.stderr
    result = [json.loads(line) for line in status.stdout.splitlines() if "needs_attention" in line]
    at_stake = {row["currency"]: (row["findings"], row["amount"])
                for row in result[0]["needs_attention"]["at_stake"]}
    assert at_stake["PAXG"] == (2, "199999999999999999998.000000000000000003")

"""The rules of money received (SPEC §6), one at a time, on a sandbox's links paid through its
admin API, through the command line's entry point (in-process; PIK's events reach a receiver
process of its own): more money reopens an acknowledged underpayment; unsettled and
webhook_missed move with --as-of and their [reconcile] settings; an event whose status is
older than the transaction's agrees; capture off judges no event; an unknown link needs a
verified sync that started after its payment was seen. `pik-recon sync` brings the links and
the transactions; these tests' sandbox holds still, so the findings are those of their
payments.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState
from tests.conftest import FAST_RETRIES, cli_env, invoke_cli, warehouse_rows
from tests.integration.test_three_way import deliver
from tests.webhook_support import SECRET, ReceiverProcess

_EVENTS = itertools.count(1)


def _shop(state: SandboxState, workdir: Path, links: dict[str, str], paid: set[str] = frozenset(),
          extra: str = "") -> dict[str, str]:
    """Links of 'Order #ID' for each order id -> amount (USDT), orders.csv of them (paid or
    awaiting payment, created an hour ago), a quiet list."""
    created = (datetime.now().astimezone() - timedelta(hours=1)).isoformat(timespec="seconds")
    ids = {}
    with state.lock:
        state.faults.drift_per_request = 0  # the findings are those of these payments
        for order, amount in links.items():
            ids[order] = state.create(amount, "USDT", f"Order #{order}").id
    (workdir / "orders.csv").write_text("order_id,amount,currency,status,created_at\n" + "".join(
        f"{o},{a},USDT,{'paid' if o in paid else 'awaiting_payment'},{created}\n"
        for o, a in links.items()), encoding="utf-8")
    (workdir / "pik-recon.toml").write_text(FAST_RETRIES + extra, encoding="utf-8")
    return ids


def _pay(sandbox: SandboxServer, link_id: str, amount: str, status: str = "settled",
         **extra: Any) -> dict[str, Any]:
    answer = httpx.post(f"{sandbox.admin_url}/transactions", json={
        "payment_link_id": link_id, "amount": amount, "status": status, **extra}, timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _cli(env: dict[str, str], workdir: Path, *args: str) -> str:
    done = invoke_cli(args, env, workdir)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout



def _found(workdir: Path) -> dict[tuple[str, str], tuple[str, str | None, str | None]]:
    """(category, link) -> (money at stake, its currency, transaction ids) of the money
    findings of the last run."""
    rows = warehouse_rows(workdir / "wh.duckdb", """
        SELECT category, link_id, CAST(at_stake AS VARCHAR), at_stake_currency, transaction_ids
        FROM findings WHERE run_id = (SELECT max(id) FROM reconcile_runs)
          AND category IN ('underpaid', 'overpaid', 'paid_without_transaction',
                           'payment_on_closed_link', 'unsettled', 'transaction_unknown_link',
                           'webhook_missed', 'webhook_disagrees')""")
    return {(c, link): (stake, currency, ids) for c, link, stake, currency, ids in rows}


def _at(txn: dict[str, Any], hours: float) -> str:
    moment = datetime.fromisoformat(txn["confirmed_at"].replace("Z", "+00:00"))
    return (moment + timedelta(hours=hours)).isoformat()


def _listed(env: dict[str, str], workdir: Path) -> dict[str, dict[str, Any]]:
    findings = json.loads(_cli(env, workdir, "--log-format", "json", "findings", "list"))
    return {f["category"]: f for f in findings["findings"]}


def test_an_acknowledged_underpayment_reopens_when_more_money_arrives_on_a_quiet_account(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    ids = _shop(sandbox_state, workdir, {"U1": "10.00", "P2": "20.00"}, paid={"P2"})
    env = cli_env(workdir, sandbox.base_url)
    first = _pay(sandbox, ids["U1"], "4.00", "confirmed", never_settles=True)
    twice = [_pay(sandbox, ids["P2"], "20.00")["id"] for _ in range(2)]
    _cli(env, workdir, "sync")
    _cli(env, workdir, "reconcile", "--orders", str(workdir / "orders.csv"))
    listed = _listed(env, workdir)
    assert (listed["underpaid"]["received_amount"], listed["underpaid"]["transaction_ids"]) == (
        "4.00", [first["id"]])
    assert listed["overpaid"]["transaction_ids"] == twice
    _cli(env, workdir, "findings", "ack", listed["underpaid"]["id"], listed["overpaid"]["id"],
         "--note", "asked the customer for the rest")
    _cli(env, workdir, "reconcile")
    assert {c: f["state"] for c, f in _listed(env, workdir).items()} == {
        "underpaid": "acknowledged", "overpaid": "acknowledged"}

    more = _pay(sandbox, ids["U1"], "3.00")  # still short of 10.00: the link stays active
    _cli(env, workdir, "sync")
    _cli(env, workdir, "reconcile")
    listed = _listed(env, workdir)
    assert {c: f["state"] for c, f in listed.items()} == {
        "underpaid": "open, changed since acknowledged", "overpaid": "acknowledged"}
    assert (listed["underpaid"]["received_amount"], listed["underpaid"]["transaction_ids"]) == (
        "7.00", [first["id"], more["id"]])
    assert _found(workdir)[("underpaid", ids["U1"])][:2] == ("3.000000000000000000", "USDT")


def test_unsettled_moves_with_as_of_and_settlement_hours_on_a_quiet_account(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    ids = _shop(sandbox_state, workdir, {"D1": "10.00"}, paid={"D1"})
    env = cli_env(workdir, sandbox.base_url)
    txn = _pay(sandbox, ids["D1"], "10.00", "confirmed", never_settles=True)
    _cli(env, workdir, "sync")
    orders = ["--orders", str(workdir / "orders.csv")]
    _cli(env, workdir, "reconcile", *orders, "--as-of", _at(txn, 23))
    assert _found(workdir) == {}
    _cli(env, workdir, "reconcile", "--as-of", _at(txn, 24))  # not more than 24 hours ago
    assert _found(workdir) == {}
    _cli(env, workdir, "reconcile", "--as-of", _at(txn, 25))
    assert _found(workdir) == {("unsettled", ids["D1"]): ("10.000000000000000000", "USDT",
                                                           txn["id"])}
    (workdir / "pik-recon.toml").write_text(FAST_RETRIES + "\n[reconcile]\nsettlement_hours = 48\n",
                                            encoding="utf-8")
    _cli(env, workdir, "reconcile", "--as-of", _at(txn, 25))
    assert _found(workdir) == {}
    _cli(env, workdir, "reconcile", "--as-of", _at(txn, 49))
    assert set(_found(workdir)) == {("unsettled", ids["D1"])}
    httpx.post(f"{sandbox.admin_url}/transactions/{txn['id']}/settle", timeout=30
               ).raise_for_status()
    _cli(env, workdir, "sync")
    _cli(env, workdir, "reconcile", "--as-of", _at(txn, 49))
    assert _found(workdir) == {}


def _event(kind: str, txn: dict[str, Any], **changed: Any) -> bytes:
    data = {"transaction_id": txn["id"], "payment_link_id": txn["payment_link_id"],
            "amount": txn["amount"], "currency": txn["currency"], "status": kind.split(".")[1],
            "confirmed_at": txn["confirmed_at"], **changed}
    return json.dumps({"event": kind, "id": f"evt_rules_{next(_EVENTS):06d}",
                       "created_at": txn["confirmed_at"], "data": data},
                      separators=(",", ":")).encode()


def test_webhook_missed_moves_with_as_of_an_older_status_agrees_and_capture_off_judges_none(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    ids = _shop(sandbox_state, workdir, {"W1": "10.00", "W2": "10.00", "W3": "10.00"},
                paid={"W1", "W2", "W3"})
    env = {**cli_env(workdir, sandbox.base_url), "PIK_WEBHOOK_SECRET": SECRET}
    older = _pay(sandbox, ids["W1"], "10.00")  # settled; its event only says confirmed
    unheard = _pay(sandbox, ids["W2"], "10.00")  # no event at all
    contradicted = _pay(sandbox, ids["W3"], "10.00")
    with ReceiverProcess(env, workdir, workdir) as receiver:
        deliver(receiver.url(), [_event("payment.confirmed", older),
                                 _event("payment.settled", contradicted, amount="10.01")])
        assert receiver.stop() == 0
    _cli(env, workdir, "sync")  # the sync loads the spool first
    orders = ["--orders", str(workdir / "orders.csv")]
    disagrees = {("webhook_disagrees", ids["W3"]): ("10.000000000000000000", "USDT",
                                                    contradicted["id"])}
    _cli(env, workdir, "reconcile", *orders, "--as-of", _at(unheard, 5))
    assert _found(workdir) == disagrees
    _cli(env, workdir, "reconcile", "--as-of", _at(unheard, 6))  # still within the grace
    assert _found(workdir) == disagrees
    _cli(env, workdir, "reconcile", "--as-of", _at(unheard, 7))
    assert _found(workdir) == {**disagrees, ("webhook_missed", ids["W2"]): (
        "10.000000000000000000", "USDT", unheard["id"])}
    (workdir / "pik-recon.toml").write_text(
        FAST_RETRIES + "\n[reconcile]\nwebhook_grace_hours = 12\n", encoding="utf-8")
    _cli(env, workdir, "reconcile", "--as-of", _at(unheard, 7))
    assert _found(workdir) == disagrees
    without = {k: v for k, v in env.items() if k != "PIK_WEBHOOK_SECRET"}
    _cli(without, workdir, "reconcile", "--as-of", _at(unheard, 30))
    assert _found(workdir) == {}
    assert warehouse_rows(workdir / "wh.duckdb",
                          "SELECT count(*) FROM webhook_events WHERE signed") == [(2,)]


def test_an_unknown_link_needs_a_verified_sync_after_its_payment_was_seen_on_a_quiet_account(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    """And a paid link without money is a finding as soon as a sync has proven PIK's list
    of transactions complete, empty as it is."""
    ids = _shop(sandbox_state, workdir, {"K1": "10.00"}, paid={"K1"})
    with sandbox_state.lock:
        sandbox_state.set_status(sandbox_state.links[ids["K1"]], "paid")  # with no money
    env = cli_env(workdir, sandbox.base_url)
    orders = ["--orders", str(workdir / "orders.csv")]
    _cli(env, workdir, "sync")  # PIK has no transaction yet
    _cli(env, workdir, "reconcile", *orders)
    assert _found(workdir) == {("paid_without_transaction", ids["K1"]): (
        "10.000000000000000000", "USDT", None)}
    stray = _pay(sandbox, "pl_not_on_this_account", "5.00", currency="USDT")
    _cli(env, workdir, "sync")  # first seen after this sync's links run started
    _cli(env, workdir, "reconcile")
    assert _found(workdir) == {("paid_without_transaction", ids["K1"]): (
        "10.000000000000000000", "USDT", None)}
    _cli(env, workdir, "sync")
    _cli(env, workdir, "reconcile")
    assert _found(workdir) == {
        ("paid_without_transaction", ids["K1"]): ("10.000000000000000000", "USDT", None),
        ("transaction_unknown_link", "pl_not_on_this_account"): (
            "5.000000000000000000", "USDT", stray["id"])}


def test_only_a_verified_links_sync_proves_a_link_unknown_not_a_transactions_one(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    """A link PIK leaves out of its list while counting it: the links sync is not verified,
    the transactions sync is; its paid transaction is on a link the warehouse lacks, yet no
    verified links sync says the warehouse holds every link, so it is no finding, nor is a
    payment on a link PIK never had; once the links sync is verified again, that one is."""
    ids = _shop(sandbox_state, workdir, {"H1": "10.00"})
    with sandbox_state.lock:
        sandbox_state.set_hidden(1)  # the shop's one link
    env = cli_env(workdir, sandbox.base_url)
    _pay(sandbox, ids["H1"], "10.00")
    stray = _pay(sandbox, "pl_not_on_this_account", "5.00", currency="USDT")
    for _ in range(2):  # the second: its transactions run started after the payment was seen
        done = invoke_cli(["--log-format", "json", "sync"], env, workdir)
        assert done.returncode == 4, done.stderr[-2000:]
    assert warehouse_rows(workdir / "wh.duckdb", "SELECT resource, verified FROM sync_runs "
                          "WHERE id > 2 ORDER BY id") == [("links", False),
                                                          ("transactions", True)]
    _cli(env, workdir, "reconcile")
    assert _found(workdir) == {}
    with sandbox_state.lock:
        sandbox_state.set_hidden(0)
    _cli(env, workdir, "sync")
    _cli(env, workdir, "reconcile")
    assert _found(workdir) == {("transaction_unknown_link", "pl_not_on_this_account"): (
        "5.000000000000000000", "USDT", stray["id"])}


def test_an_account_without_any_transaction_has_every_paid_link_without_money(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    """PIK's list of transactions proven complete and empty, yet two links paid: that is the
    worst case of money received, not a sign that it is not known yet."""
    ids = _shop(sandbox_state, workdir, {"A1": "10.00", "A2": "20.00", "A3": "5.00"},
                paid={"A1", "A2"})
    for order in ("A1", "A2"):
        assert httpx.post(f"{sandbox.admin_url}/links/{ids[order]}/pay",
                          timeout=30).status_code == 200
    env = cli_env(workdir, sandbox.base_url)
    synced = _cli(env, workdir, "sync")
    assert "verified: all 0 transactions" in synced

    _cli(env, workdir, "reconcile", "--orders", str(workdir / "orders.csv"))

    assert set(_found(workdir)) == {("paid_without_transaction", ids["A1"]),
                                    ("paid_without_transaction", ids["A2"])}


def test_an_as_of_without_an_offset_is_read_in_the_report_timezone(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    """Finance in Tokyo fixing "now" at 2026-11-20 means midnight there, 15:00 UTC the day
    before; an explicit offset is kept as written."""
    _shop(sandbox_state, workdir, {"T1": "10.00"}, extra='\n[report]\ntimezone = "Asia/Tokyo"\n')
    env = cli_env(workdir, sandbox.base_url)
    _cli(env, workdir, "sync")
    for given in ("2026-11-20", "2026-11-20T09:30:00", "2026-11-20T09:30:00+00:00"):
        _cli(env, workdir, "reconcile", "--as-of", given)
    assert warehouse_rows(workdir / "wh.duckdb", "SELECT strftime(as_of AT TIME ZONE 'UTC', "
                          "'%Y-%m-%d %H:%M') FROM reconcile_runs ORDER BY id") == [
        ("2026-11-19 15:00",), ("2026-11-20 00:30",), ("2026-11-20 09:30",)]

"""Transactions synced as real processes against lists that never hold still, with faults:
the same proof, budget, quarantine, history and incremental reading as the links'.

The sandbox changes its transactions before every transactions list request (customers
start paying, pending ones confirm or fail, confirmed ones settle) and its links before every
links list request, for as long as the sync runs.
"""

from __future__ import annotations

import json
import math
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pik_recon.sandbox.payments import generate_attempts, generate_transactions
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from pik_recon.transactions import STATUSES
from tests.conftest import cli_env, run_cli, warehouse_rows

LINKS = 5_000
FINAL = ("settled", "failed")


def transactions_served(state: SandboxState) -> int:
    """Transactions requests the sandbox answered (list pages and single ones), failed ones
    left out."""
    with state.lock:
        return state.transactions.served_lists + state.transactions.served_single


def transaction_statuses(state: SandboxState) -> dict[str, str]:
    with state.lock:
        return {t.id: t.status for t in state.transactions.by_id.values() if t.raw is None}


def sandbox_transactions(state: SandboxState) -> set[tuple[Any, ...]]:
    """Every transaction as the sandbox holds it, in the API's shape; injected records out."""
    with state.lock:
        return {tuple(t.as_dict().get(f) for f in FIELDS)
                for t in state.transactions.by_id.values() if t.raw is None}


FIELDS = ("id", "payment_link_id", "amount", "currency", "status", "tx_hash", "created_at",
          "confirmed_at", "settled_at")
STAMP = "'%Y-%m-%dT%H:%M:%S.%fZ'"


def warehouse_transactions(db: Path) -> set[tuple[Any, ...]]:
    return set(warehouse_rows(db, f"""
        SELECT id, payment_link_id, amount_text, currency, status, tx_hash,
               strftime(created_at AT TIME ZONE 'UTC', {STAMP}),
               strftime(confirmed_at AT TIME ZONE 'UTC', {STAMP}),
               strftime(settled_at AT TIME ZONE 'UTC', {STAMP})
        FROM transactions"""))


def _run(db: Path, resource: str) -> dict[str, Any]:
    columns = ("id", "mode", "state", "verified", "verdict", "pik_total", "accounted",
               "request_budget", "budget_spent", "requests", "retries", "quarantined",
               "transactions_new", "strategy")
    row = warehouse_rows(db, f"SELECT {', '.join(columns)} FROM sync_runs WHERE resource = "
                             f"'{resource}' ORDER BY id DESC LIMIT 1")[0]
    return dict(zip(columns, row, strict=True))


def _seed(state: SandboxState, attempts: int = 0) -> None:
    with state.lock:
        generate_links(state, LINKS)
        generate_transactions(state, list(state.links.values()))
        generate_attempts(state, attempts)


def _minimum(state: SandboxState) -> int:
    """The fewest requests a sweep of the transactions takes now: a page per 100 and the
    first page of each status."""
    with state.lock:
        return math.ceil(sum(state.transactions.counts().values()) / 100) + len(STATUSES)


def _settle_and_quiet(state: SandboxState) -> None:
    """Stop the drift and the faults, and let two hours pass: every confirmed transaction
    due settles now, and none comes due while the last sync and the comparison run."""
    with state.lock:
        state.faults.drift_per_request = 0
        state.faults.rate = 0
        state.advance_clock(7_200)
        state.transactions.settle_due()


@pytest.mark.parametrize("ordering", ["newest", "oldest"])
@pytest.mark.parametrize("drift", [1, 5])
def test_transactions_of_a_moving_account_are_verified_at_near_minimal_cost(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path, drift: float,
        ordering: str) -> None:
    _seed(sandbox_state)
    with sandbox_state.lock:
        sandbox_state.set_ordering(ordering)
        sandbox_state.faults.drift_per_request = drift
        sandbox_state.faults.rate = 0.08
        sandbox_state.faults.fault_latency_ms = 20
    minimum, start = _minimum(sandbox_state), transaction_statuses(sandbox_state)
    before = transactions_served(sandbox_state)
    env = cli_env(workdir, sandbox.base_url)

    done = run_cli(["sync"], env, workdir)

    spent = transactions_served(sandbox_state) - before
    assert done.returncode == 0, done.stderr
    book = sandbox_state.transactions  # it moved before every list page answered, all along
    assert book.drift_changes >= drift * book.served_lists - 1
    db = workdir / "wh.duckdb"
    run = _run(db, "transactions")
    assert run["verified"] is True and run["verdict"].startswith("verified: all ")
    assert run["pik_total"] == run["accounted"] >= len(start)
    assert run["request_budget"] == 3 * run["request_budget"] // 3 >= 3 * minimum
    held = dict(warehouse_rows(db, "SELECT id, status FROM transactions"))
    now = transaction_statuses(sandbox_state)
    assert set(start) <= set(held)  # every transaction that existed at the start
    assert all(held[i] == s for i, s in start.items() if s in FINAL)  # final stays final
    finals = [i for i, s in held.items() if s in FINAL]
    assert finals and all(now[i] == held[i] for i in finals)  # a final status held is PIK's
    print(f"\n[transactions, drift {drift:g}/request, {ordering} first, 8% faults] {spent} "
          f"requests answered, minimum {minimum}: {spent / minimum:.2f}x (allowed 1.3x)")
    assert spent <= 1.3 * minimum, (spent, minimum)

    _settle_and_quiet(sandbox_state)
    again = run_cli(["sync"], env, workdir)

    assert again.returncode == 0, again.stderr
    assert _run(db, "transactions")["mode"] == "incremental"
    assert warehouse_transactions(db) == sandbox_transactions(sandbox_state)
    # every status change the warehouse observed is in its history, the first sighting first
    assert warehouse_rows(db, """
        SELECT count(*) FROM transactions AS t
        WHERE t.status <> (SELECT h.new_status FROM transaction_status_history AS h
                           WHERE h.transaction_id = t.id ORDER BY h.id DESC LIMIT 1)
           OR 1 <> (SELECT count(*) FROM transaction_status_history AS h
                    WHERE h.transaction_id = t.id AND h.old_status IS NULL)""") == [(0,)]


def test_transactions_hidden_from_every_page_are_never_verified(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    _seed(sandbox_state)
    with sandbox_state.lock:
        sandbox_state.transactions.set_hidden(7)
    before = transactions_served(sandbox_state)

    done = run_cli(["sync"], cli_env(workdir, sandbox.base_url), workdir)

    assert done.returncode == 4, done.stderr
    db = workdir / "wh.duckdb"
    assert _run(db, "links")["verified"] is True  # the links' proof is their own
    run = _run(db, "transactions")
    assert transactions_served(sandbox_state) - before <= run["request_budget"]
    assert run["verified"] is False
    assert run["verdict"].startswith("not verified: the request budget of ")
    missing = run["pik_total"] - run["accounted"]
    assert missing >= 7  # the hidden ones, and maybe some added as the budget ran out
    assert (f"(transactions) not verified: the request budget of {run['request_budget']:,} "
            f"requests is spent; PIK counts {run['pik_total']:,} transactions, "
            f"{run['accounted']:,} are accounted for ({missing:,} missing)") in done.stderr
    assert "verdict: not verified: the request budget" in done.stdout
    shown = run_cli(["status"], cli_env(workdir, sandbox.base_url), workdir)
    assert shown.returncode == 0, shown.stderr
    assert (f"WARNING: the last sync could not verify the transactions: "
            f"{run['verdict']}") in shown.stdout
    assert "could not verify the links" not in shown.stdout


def _sync_job(workdir: Path) -> None:
    jobs = workdir / "jobs"
    jobs.mkdir()
    (jobs / "syncing.toml").write_text('[schedule]\ncron = "30 2 * * *"\ntimezone = "UTC"\n\n'
                                       '[[steps]]\ntype = "sync"\n', encoding="utf-8")
    config = workdir / "pik-recon.toml"
    config.write_text(config.read_text() + f'\n[jobs]\ndir = "{jobs}"\n', encoding="utf-8")


def _counted(run: dict[str, Any]) -> dict[str, Any]:
    """What the sync step counts of one list's run, read from its sync_runs row."""
    return {"verified": run["verified"], "new": run["new"], "changed": run["changed"],
            "quarantined": run["quarantined"], "requests": run["budget_spent"],
            "budget": run["request_budget"], "retries": run["retries"]}


def test_the_job_step_and_status_show_the_verdicts_of_both_lists(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    _seed(sandbox_state)
    with sandbox_state.lock:
        sandbox_state.transactions.set_hidden(7)
    _sync_job(workdir)
    env = cli_env(workdir, sandbox.base_url)

    done = run_cli(["--log-format", "json", "run", "syncing"], env, workdir)

    assert done.returncode == 4, done.stderr
    (job,) = [json.loads(line) for line in done.stdout.splitlines()]
    (step,) = job["steps"]
    db = workdir / "wh.duckdb"
    runs = {resource: dict(zip(
        ("id", "verified", "verdict", "new", "changed", "quarantined", "budget_spent",
         "request_budget", "retries"), row, strict=True)) for resource, *row in warehouse_rows(
        db, "SELECT resource, id, verified, verdict, coalesce(links_new, transactions_new), "
            "coalesce(links_changed, transactions_changed), quarantined, budget_spent, "
            "request_budget, retries FROM sync_runs")}
    assert (runs["links"]["verified"], runs["transactions"]["verified"]) == (True, False)
    assert step["counts"] == {name: _counted(run) for name, run in runs.items()}
    assert step["exit_code"] == 4
    assert (f"sync run {runs['transactions']['id']} (transactions) "
            f"{runs['transactions']['verdict']}") in step["error"]

    shown = run_cli(["--log-format", "json", "status"], env, workdir)

    assert shown.returncode == 0, shown.stderr
    (state,) = json.loads(shown.stdout.splitlines()[0])["accounts"]
    assert {name: (last["verified"], last["verdict"]) for name, last in
            state["last_syncs"].items()} == {name: (run["verified"], run["verdict"])
                                              for name, run in runs.items()}


GOOD = {"payment_link_id": "pl_x", "currency": "USDT", "tx_hash": None,
        "created_at": "2026-11-01T10:00:00.000000Z", "confirmed_at": None, "settled_at": None}
MALFORMED = [
    ({**GOOD, "amount": "5.00", "status": "pending"}, "pending", "missing id"),
    ({**GOOD, "id": "pl_not_a_txn", "amount": "5.00", "status": "pending"}, "pending",
     "id 'pl_not_a_txn' is not a transaction's (txn_...)"),
    ({**GOOD, "id": "txn_bad_amount", "amount": "abc", "status": "settled"}, "settled",
     "amount 'abc' is not a decimal number"),
    ({**GOOD, "id": "txn_negative", "amount": "-5.00", "status": "settled"}, "settled",
     "amount '-5.00' is not a plain positive decimal (digits, optionally a point and "
     "decimals, e.g. '75.00')"),
    ({**GOOD, "id": "txn_number", "amount": 12.5, "status": "failed"}, "failed",
     "amount must be a decimal string, got float"),
    ({**GOOD, "id": "txn_refunded", "amount": "1", "status": "refunded"}, "settled",
     "unknown status 'refunded'"),
    ({**GOOD, "id": "txn_naive", "amount": "1", "status": "settled",
      "settled_at": "2026-11-01T11:00:00"}, "settled",
     "settled_at '2026-11-01T11:00:00' has no time zone"),
]


def test_malformed_transactions_are_quarantined_whole_and_counted_by_the_proof(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    _seed(sandbox_state)
    for record, status, _ in MALFORMED:  # through the sandbox's admin endpoint
        request = urllib.request.Request(
            f"{sandbox.admin_url}/inject", method="POST",
            data=json.dumps({"kind": "transaction", "record": record, "status": status}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

    done = run_cli(["sync"], cli_env(workdir, sandbox.base_url), workdir)

    assert done.returncode == 0, done.stderr
    db = workdir / "wh.duckdb"
    rows = warehouse_rows(db, "SELECT listed_status, transaction_id, link_id, reason, record "
                              "FROM quarantine WHERE resource = 'transactions'")
    found = {json.dumps(json.loads(record), sort_keys=True): (listed, txn_id, link_id, reason)
             for listed, txn_id, link_id, reason, record in rows}
    assert len(found) == len(rows) == len(MALFORMED)  # each once
    for record, status, reason in MALFORMED:  # seen first in every transaction's list, or its own
        listed, txn_id, link_id, why = found[json.dumps(record, sort_keys=True)]
        assert (txn_id, link_id, why) == (record.get("id"), None, reason)
        assert listed in (None, status)
    run = _run(db, "transactions")
    assert (run["quarantined"], run["verified"]) == (len(MALFORMED), True)
    assert warehouse_rows(db, "SELECT count(*) FROM transactions WHERE id IN ('txn_bad_amount', "
                              "'txn_negative', 'txn_number', 'txn_refunded', 'txn_naive')") == [
        (0,)]
    assert warehouse_rows(db, "SELECT count(*) FROM quarantine WHERE resource = 'links'") == [
        (0,)]
    assert done.stdout.count(f"quarantined {len(MALFORMED)},") == 1  # the transactions' line


def _lose(sandbox: SandboxServer, txn_id: str) -> None:
    request = urllib.request.Request(f"{sandbox.admin_url}/transactions/{txn_id}/lose",
                                     method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def test_transactions_pik_lost_are_marked_vanished_and_too_many_stop_the_sync(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    _seed(sandbox_state)
    env = cli_env(workdir, sandbox.base_url)
    db = workdir / "wh.duckdb"
    assert run_cli(["sync"], env, workdir).returncode == 0
    held = dict(warehouse_rows(db, "SELECT id, status FROM transactions"))
    settled = sorted(i for i, s in held.items() if s == "settled")
    open_ones = sorted(i for i, s in held.items() if s in ("pending", "confirmed"))
    lost = settled[:4] + open_ones[:2]
    for txn_id in lost:
        _lose(sandbox, txn_id)

    done = run_cli(["sync"], env, workdir)  # incremental: settled ones are held, not fetched

    assert done.returncode == 0, done.stderr
    marked = warehouse_rows(db, "SELECT id FROM transactions WHERE vanished_at IS NOT NULL")
    assert sorted(r[0] for r in marked) == sorted(lost)
    assert warehouse_rows(db, "SELECT state, verified, transactions_vanished, links_vanished "
                              "FROM sync_runs WHERE resource = 'transactions' ORDER BY id "
                              "DESC LIMIT 1") == [("finished", True, len(lost), None)]
    assert f"vanished {len(lost)}" in done.stdout

    config = workdir / "pik-recon.toml"
    config.write_text(config.read_text() + "\n[sync]\nmax_vanished = 2\n", encoding="utf-8")
    more = sorted(set(settled) - set(lost))[:3]
    for txn_id in more:
        _lose(sandbox, txn_id)

    stopped = run_cli(["sync"], env, workdir)

    assert stopped.returncode == 2, stopped.stderr
    assert ("the warehouse holds 3 transactions PIK does not know; is --db the warehouse of "
            "another account?") in stopped.stderr
    state, verified, verdict = warehouse_rows(
        db, "SELECT state, verified, verdict FROM sync_runs WHERE resource = 'transactions' "
            "ORDER BY id DESC LIMIT 1")[0]
    assert (state, verified) == ("failed", False)
    assert verdict.startswith("not verified: the warehouse holds 3 transactions PIK does not")
    assert warehouse_rows(db, "SELECT count(*) FROM transactions WHERE vanished_at IS NOT "
                              "NULL") == [(len(lost),)]  # none of the three marked


@pytest.mark.parametrize("old_open", [False, True])
def test_an_incremental_sync_after_a_day_of_payments_costs_a_fraction_of_a_full_sweep(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path,
        old_open: bool) -> None:
    """`old_open`: 20,000 more payment attempts of any age (mostly settled, some failed, a
    few pending or confirmed that the day may move on); else the links' own transactions
    (pending ones are recent)."""
    with sandbox_state.lock:
        generate_links(sandbox_state, 25_000 if not old_open else LINKS)
        generate_transactions(sandbox_state, list(sandbox_state.links.values()))
        generate_attempts(sandbox_state, 20_000 if old_open else 0)
    env = cli_env(workdir, sandbox.base_url)
    db = workdir / "wh.duckdb"
    assert run_cli(["sync"], env, workdir).returncode == 0
    full = _run(db, "transactions")
    held_open = dict(warehouse_rows(db, "SELECT id, epoch(created_at) FROM transactions WHERE "
                                        "status IN ('pending', 'confirmed')"))
    with sandbox_state.lock:  # a day: links paid and new, customers paying and their
        # payments moving on (500 changes), an hour for the confirmed ones to settle
        day = sandbox_state.simulate_day(new=500, changes=500, old_ratio=0.02)
        sandbox_state.transactions.drift(500)
        sandbox_state.advance_clock(3_600)
        settled = sandbox_state.transactions.settle_due()
        week_ago = (sandbox_state.now() - timedelta(days=7)).timestamp()
    assert day["changed"] > 0 and settled > 0
    start, before = transaction_statuses(sandbox_state), transactions_served(sandbox_state)
    moved_old = sum(1 for i, at in held_open.items() if start[i] in FINAL and at < week_ago)

    done = run_cli(["sync"], env, workdir)

    assert done.returncode == 0, done.stderr
    requests = transactions_served(sandbox_state) - before
    run = _run(db, "transactions")
    assert (run["mode"], run["verified"]) == ("incremental", True), run["verdict"]
    held = dict(warehouse_rows(db, "SELECT id, status FROM transactions"))
    assert set(start) <= set(held)
    now = transaction_statuses(sandbox_state)
    assert all(now[i] == s for i, s in held.items() if s in FINAL)
    # Every transaction held pending or confirmed is observed again: some 1,000 here (600
    # confirmed ones never settle), so their lists, about 11 pages, are read whole each day,
    # a page per 100 held; then the newest pages of settled and failed, where the day's
    # payments are, the first pages and the proof's: 15 to 20 requests more, against a sweep
    # of 230. A fifth of a sweep leaves room for those (its figure moves by a few requests
    # with the generated data, so the open lists' pages are counted apart) and fails a sync
    # that sweeps the settled list, most of a sweep, whole. An open transaction months old
    # that moved on sits deep in its final list, where only a fetch by id finds it: with
    # old ones (`old_open`), one request more for each at most.
    open_pages = -(-len(held_open) // 100)
    allowed = full["budget_spent"] / 5 + open_pages + (moved_old if old_open else 0)
    print(f"\n[transactions, a day later, {'old' if old_open else 'no old'} open ones] "
          f"incremental sync {requests} requests, full sweep {full['budget_spent']} "
          f"({full['budget_spent'] / requests:.1f}x); {moved_old} open ones over a week old "
          f"moved on; {len(held_open)} held open; allowed {allowed:.0f}")
    assert requests <= allowed, (requests, run["strategy"])

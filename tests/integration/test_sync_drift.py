"""Full syncs against a list that never holds still, with faults, through the command line's
entry point (in-process, beside the sandbox's thread).

The sandbox changes before every list request for as long as the sync runs; nothing here
stops it until the sync has exited.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pik_recon.links import STATUSES
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from tests.conftest import (
    cli_env,
    invoke_cli,
    sandbox_snapshot,
    served,
    statuses,
    warehouse_rows,
    warehouse_snapshot,
)

LINKS = 5_000
FINAL = ("paid", "expired", "deactivated")


def _moving(state: SandboxState, drift: float, ordering: str, fault_rate: float) -> int:
    """Seed the sandbox and set it moving; the minimum requests of a sync of it."""
    with state.lock:
        generate_links(state, LINKS)
        state.set_ordering(ordering)
        state.faults.drift_per_request = drift
        state.faults.rate = fault_rate
        state.faults.fault_latency_ms = 20
        return math.ceil(len(state.links) / 100) + len(STATUSES)


def _quiet(state: SandboxState) -> None:
    with state.lock:
        state.faults.drift_per_request = 0
        state.faults.rate = 0


def _held(db: Path) -> dict[str, str]:
    return dict(warehouse_rows(db, "SELECT id, status FROM payment_links"))


def _assert_complete_and_final_right(start: dict[str, str], held: dict[str, str],
                                     now: dict[str, str]) -> None:
    assert set(start) <= set(held)  # every link that existed at the start
    assert all(held[i] == s for i, s in start.items() if s in FINAL)  # final stays final
    finals = [i for i, s in held.items() if s in FINAL]
    assert finals
    assert all(now[i] == held[i] for i in finals)  # a final status held is PIK's


@pytest.mark.parametrize("ordering", ["newest", "oldest"])
@pytest.mark.parametrize(("drift", "allowed"), [(0.1, 1.3), (1, 1.3), (5, 3.0), (20, 3.0)])
def test_a_list_that_never_holds_still_is_verified_at_near_minimal_cost(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path, drift: float,
        allowed: float, ordering: str) -> None:
    minimum = _moving(sandbox_state, drift, ordering, fault_rate=0.08)
    start, before = statuses(sandbox_state), served(sandbox_state)
    env = cli_env(workdir, sandbox.base_url)

    done = invoke_cli(["sync"], env, workdir)

    spent = served(sandbox_state) - before
    assert done.returncode == 0, done.stderr
    # it moved before every list page answered, all along
    assert sandbox_state.log.drift_changes >= int(drift * sandbox_state.log.list_requests) - 1
    # The network failed, and every failure was retried. A sync of 5,000 links sends 60 to
    # 190 requests, so 8% of them is 5 to 15 faults: the `> 50` of 20,000 links with repair
    # rounds cannot hold here. Instead every fault that fails a request (all kinds but
    # `latency`) is one retry of the links' or the transactions' run, exactly.
    faults = sandbox_state.log.fault_counts
    assert sum(faults.values()) > 0
    db = workdir / "wh.duckdb"
    retried = warehouse_rows(db, "SELECT sum(retries) FROM sync_runs")[0][0]
    assert retried == sum(n for kind, n in faults.items() if kind != "latency")
    verified, verdict, total, accounted, budget = warehouse_rows(
        db, "SELECT verified, verdict, pik_total, accounted, request_budget FROM sync_runs "
            "WHERE resource = 'links'")[0]
    assert verified is True and verdict.startswith("verified: all ")
    assert total == accounted >= len(start)
    # 3x the minimum for the links PIK counted at the first request (some added just before)
    assert budget in (3 * minimum, 3 * (minimum + 1))
    _assert_complete_and_final_right(start, _held(db), statuses(sandbox_state))
    print(f"\n[drift {drift:g}/request, {ordering} first, 8% faults] {spent} requests "
          f"answered, minimum {minimum}: {spent / minimum:.2f}x (allowed {allowed}x)")
    assert spent <= allowed * minimum, (spent, minimum)

    _quiet(sandbox_state)
    again = invoke_cli(["sync"], env, workdir)

    assert again.returncode == 0, again.stderr
    assert warehouse_snapshot(db) == sandbox_snapshot(sandbox_state)


def test_links_hidden_from_every_page_are_never_verified(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    minimum = _moving(sandbox_state, 1, "newest", fault_rate=0)
    with sandbox_state.lock:
        sandbox_state.set_hidden(7)
    before = served(sandbox_state)

    done = invoke_cli(["sync"], cli_env(workdir, sandbox.base_url), workdir)

    assert done.returncode == 4, done.stderr
    verified, verdict, total, accounted, budget = warehouse_rows(
        workdir / "wh.duckdb", "SELECT verified, verdict, pik_total, accounted, request_budget "
                               "FROM sync_runs WHERE resource = 'links'")[0]
    assert served(sandbox_state) - before <= budget <= 3 * (minimum + 1)
    assert verified is False
    assert verdict.startswith("not verified: the request budget of ")
    missing = total - accounted
    assert missing >= 7  # the hidden ones, and maybe links added as the budget ran out
    assert f"PIK counts {total:,} links, {accounted:,} are accounted for ({missing:,} missing)" \
        in done.stderr


def test_a_list_shuffled_on_every_request_is_verified_or_refused_never_wrong(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    minimum = _moving(sandbox_state, 1, "shuffled", fault_rate=0.08)
    start, before = statuses(sandbox_state), served(sandbox_state)

    done = invoke_cli(["sync"], cli_env(workdir, sandbox.base_url), workdir)

    db = workdir / "wh.duckdb"
    verified, total, accounted, budget = warehouse_rows(
        db, "SELECT verified, pik_total, accounted, request_budget FROM sync_runs "
            "WHERE resource = 'links'")[0]
    assert served(sandbox_state) - before <= budget <= 3 * (minimum + 1)
    held = _held(db)
    transactions_verified = warehouse_rows(
        db, "SELECT verified FROM sync_runs WHERE resource = 'transactions'")[0][0]
    assert done.returncode == (0 if verified and transactions_verified else 4), done.stderr
    if verified:
        _assert_complete_and_final_right(start, held, statuses(sandbox_state))
    else:
        assert accounted < total
        assert len(set(start) - set(held)) > 0 or len(held) < total


def test_the_summary_shows_the_budget_and_the_moves_as_information(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    _moving(sandbox_state, 5, "newest", fault_rate=0)

    done = invoke_cli(["sync"], cli_env(workdir, sandbox.base_url), workdir)

    assert done.returncode == 0, done.stderr
    spent, budget, sent, retries, moved, totals, counts = warehouse_rows(
        workdir / "wh.duckdb", "SELECT budget_spent, request_budget, requests, retries, "
                               "links_moved, pik_totals, warehouse_counts FROM sync_runs "
                               "WHERE resource = 'links'")[0]
    assert (f"requests {spent} of a budget of {budget} ({sent} sent, {retries} of them "
            "retries)") in done.stdout
    assert 0 < moved <= sandbox_state.log.drift_changes
    assert set(json.loads(totals)) == set(json.loads(counts)) == set(STATUSES)
    assert (f"{moved:,} links under another status at PIK than in the warehouse (changed or "
            "appeared while the sync ran, or not read)") in done.stdout


def test_a_budget_spent_before_any_total_still_shows_what_the_warehouse_holds(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    _moving(sandbox_state, 0, "newest", fault_rate=0)
    env = cli_env(workdir, sandbox.base_url)
    assert invoke_cli(["sync"], env, workdir).returncode == 0
    db = workdir / "wh.duckdb"
    held = dict(warehouse_rows(db, "SELECT status, count(*) FROM payment_links GROUP BY "
                                   "status"))
    assert sum(held.values()) == LINKS
    config = workdir / "pik-recon.toml"
    config.write_text(config.read_text(encoding="utf-8") + "[sync]\nrequest_budget = 2\n",
                      encoding="utf-8")

    done = invoke_cli(["--log-format", "json", "sync", "--full"], env, workdir)

    assert done.returncode == 4, done.stderr
    links = [r for r in map(json.loads, done.stdout.splitlines())
             if r.get("resource") == "links"][-1]
    assert links["verified"] is False and "request budget of 2 requests" in links["verdict"]
    assert links["warehouse_counts"] == {s: held.get(s, 0) for s in STATUSES}
    counts = warehouse_rows(db, "SELECT warehouse_counts FROM sync_runs WHERE resource = "
                                "'links' ORDER BY id DESC LIMIT 1")[0][0]
    assert json.loads(counts) == links["warehouse_counts"]

"""Links the warehouse holds that PIK does not: checked by id once the proof holds, marked
vanished when they are few, and a stop (exit 2) when they are another account's."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import Faults, SandboxState, generate_links
from tests.conftest import DRIFT, cli_env, invoke_cli, warehouse_rows

OTHER_KEY = "sk_test_OTHER_ACCOUNT_k3Lq8Zr2"
FOREIGN = re.compile(r"the warehouse holds (\d+) links PIK does not know; is --db the "
                     r"warehouse of another account\?")


def _lose(server: SandboxServer, link_id: str, how: str = "lose") -> None:
    """PIK forgets a link (through the sandbox's admin endpoint, over HTTP); "uncount": its
    lists and totals do, but it still answers for it by id."""
    request = urllib.request.Request(f"{server.admin_url}/links/{link_id}/{how}", data=b"{}",
                                     method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def test_a_warehouse_synced_against_another_account_stops_with_exit_2(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, 1_000)
    other_state = SandboxState(api_key=OTHER_KEY, seed=29,
                               faults=Faults(rate_limit_enabled=False, retry_after_seconds=0,
                                             drift_per_request=DRIFT))
    generate_links(other_state, 900)
    db = workdir / "wh.duckdb"
    assert invoke_cli(["sync"], cli_env(workdir, sandbox.base_url), workdir).returncode == 0
    first = dict(warehouse_rows(db, "SELECT id, status FROM payment_links"))

    with SandboxServer(other_state) as other:
        done = invoke_cli(["sync"], cli_env(workdir, other.base_url, OTHER_KEY), workdir)

    assert done.returncode == 2, done.stderr
    found = FOREIGN.search(done.stderr)
    assert found is not None, done.stderr
    assert int(found.group(1)) > 10  # more than max_vanished, the default
    assert warehouse_rows(db, "SELECT count(*) FROM payment_links WHERE vanished_at IS NOT "
                              "NULL") == [(0,)]
    state, verified, verdict, vanished = warehouse_rows(
        db, "SELECT state, verified, verdict, links_vanished FROM sync_runs "
            "WHERE resource = 'links' ORDER BY id")[-1]
    assert (state, verified, vanished) == ("failed", False, 0)
    assert verdict.startswith("not verified: the warehouse holds ")
    assert FOREIGN.search(verdict) is not None
    # the first account's links are as the first sync left them: nothing marked, nothing lost
    kept = dict(warehouse_rows(db, f"SELECT id, status FROM payment_links WHERE id IN "
                                   f"({', '.join(repr(i) for i in first)})"))
    assert kept == first


def test_a_few_links_pik_lost_are_marked_vanished_and_the_sync_verified(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, 2_000)
    env = cli_env(workdir, sandbox.base_url)
    db = workdir / "wh.duckdb"
    assert invoke_cli(["sync"], env, workdir).returncode == 0
    with sandbox_state.lock:
        paid = sorted(i for i, link in sandbox_state.links.items() if link.status == "paid")
        active = sorted(i for i, link in sandbox_state.links.items() if link.status == "active")
    lost = paid[:6] + active[:2]
    for link_id in lost:
        _lose(sandbox, link_id)

    done = invoke_cli(["sync"], env, workdir)  # incremental: final links are held, not fetched

    assert done.returncode == 0, done.stderr
    marked = warehouse_rows(db, "SELECT id FROM payment_links WHERE vanished_at IS NOT NULL")
    assert sorted(r[0] for r in marked) == sorted(lost)
    last = warehouse_rows(db, "SELECT state, verified, links_vanished FROM sync_runs "
                              "WHERE resource = 'links' ORDER BY id DESC LIMIT 1")
    assert last == [("finished", True, len(lost))]
    assert f"vanished {len(lost)}" in done.stdout


def test_a_link_pik_returns_by_id_but_does_not_count_fails_the_proof(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, 1_000)
    env = cli_env(workdir, sandbox.base_url)
    db = workdir / "wh.duckdb"
    assert invoke_cli(["sync"], env, workdir).returncode == 0
    with sandbox_state.lock:
        uncounted = min(i for i, link in sandbox_state.links.items() if link.status == "paid")
    _lose(sandbox, uncounted, "uncount")

    done = invoke_cli(["sync"], env, workdir)

    assert done.returncode == 4, done.stderr
    run, verified, verdict, total, accounted = warehouse_rows(
        db, "SELECT id, verified, verdict, pik_total, accounted FROM sync_runs "
            "WHERE resource = 'links' ORDER BY id")[-1]
    assert verified is False
    assert verdict.startswith("not verified: PIK returned 1 link by id that its total does "
                              "not count; ")
    assert accounted == total + 1
    assert warehouse_rows(db, f"SELECT last_seen_run, vanished_at FROM payment_links "
                              f"WHERE id = '{uncounted}'") == [(run, None)]  # the second

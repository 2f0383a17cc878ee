"""Incremental syncs after a simulated day, while the list never holds still."""

from __future__ import annotations

from pathlib import Path

import pytest

from pik_recon.config import Config, load_config
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from pik_recon.sync import SyncResult, sync_accounts
from tests.conftest import (
    API_KEY,
    sandbox_snapshot,
    served,
    statuses,
    warehouse_rows,
    warehouse_snapshot,
)

LINKS = 50_000
# A day after a full sweep, then a quiet sync: 200 pages and a day of 400 new links and 400
# changes are enough for the list to move under every ordering
DAY_LINKS = 20_000


def _config(base_url: str, db: Path) -> Config:
    return load_config(db=str(db), base_url=base_url, env={"PIK_API_KEY": API_KEY},
                       overrides={"pik": {"rate_limit_enabled": False}})


def _sync(config: Config, state: SandboxState, full: bool = False) -> tuple[SyncResult, int]:
    """The links' run of a sync (its transactions are synced after it, on PIK's other
    list), and the link requests the sandbox answered for it."""
    before = served(state)
    outcome = sync_accounts([config], full=full)[0]
    assert outcome.error is None and outcome.links is not None, outcome.error
    return outcome.links, served(state) - before


@pytest.mark.parametrize("ordering", ["newest", "oldest", "id", "shuffled"])
def test_incremental_after_a_day_then_exact_once_quiet(
        sandbox: SandboxServer, sandbox_state: SandboxState, tmp_path: Path,
        ordering: str) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, DAY_LINKS)
    config = _config(sandbox.base_url, tmp_path / "wh.duckdb")
    full, full_requests = _sync(config, sandbox_state)
    assert (full.mode, full.verified) == ("full", True)
    with sandbox_state.lock:
        day = sandbox_state.simulate_day(new=DAY_LINKS // 50, changes=DAY_LINKS // 50,
                                         old_ratio=0.02)
        sandbox_state.set_ordering(ordering)
        sandbox_state.faults.drift_per_request = 2
    assert day["expired"] > 0 and day["old"] > 0  # expiries and months-old links changed

    start = statuses(sandbox_state)

    incremental, requests = _sync(config, sandbox_state)

    assert incremental.mode == "incremental"
    assert requests <= incremental.requests.budget
    if ordering in ("newest", "oldest"):  # ordered by creation time: provable while moving
        assert incremental.verified, incremental.verdict
        assert requests <= full_requests * 1.05
        # a true verdict: every link that existed at the start is held, final statuses as
        # PIK has them
        held = dict(warehouse_rows(tmp_path / "wh.duckdb", "SELECT id, status FROM payment_links"))
        now = statuses(sandbox_state)
        assert set(start) <= set(held)
        assert all(now[i] == s for i, s in held.items() if s != "active")
    else:  # by id or shuffled, at 2 changes a request: no proof holds, the budget runs out
        assert incremental.verified is False
        budget = incremental.requests.budget
        assert incremental.verdict.startswith(
            f"not verified: the request budget of {budget:,} requests is spent; "
        ), incremental.verdict
        assert incremental.total is not None and incremental.accounted is not None
        assert incremental.accounted < incremental.total
    with sandbox_state.lock:
        sandbox_state.faults.drift_per_request = 0
        sandbox_state.set_ordering("newest" if ordering == "shuffled" else ordering)
    quiet, _ = _sync(config, sandbox_state)

    assert quiet.verified, quiet.verdict
    assert warehouse_snapshot(tmp_path / "wh.duckdb") == sandbox_snapshot(sandbox_state)
    modes = warehouse_rows(tmp_path / "wh.duckdb", "SELECT mode FROM sync_runs WHERE resource = "
                                                   "'links' ORDER BY id")
    assert [m[0] for m in modes] == ["full", "incremental", "incremental"]


# Why these fractions. On a quiet list the incremental sync reads the day's 1,000 new links
# and the newest pages of each final status, and fetches by id the 20 months-old links that
# changed: about a tenth of a full sweep (10.3x measured), so 8. On a moving list it must
# also find the links the drift changed while the previous full sweep ran: of its ~500
# changes half turn an active link final, half of those are links months old (the active
# links are half young, half long-lived), and the ones the sweep had read before they
# changed sit deep in a final list, found only by id, a request each: 60 to 110 fetches on
# top of the quiet sync's 50, against a full sweep of ~535 (3.9 to 5.5x measured over
# seeds). A quarter fails at the upper end of that spread, which the drift decides, not the
# sync; a third holds it and still fails a sync that fetched the day's changed links by id
# (1,000 requests) or swept a final status whole (300 and more).
@pytest.mark.parametrize(("drift", "fraction"), [(0, 8), (1, 3)])
def test_links_that_expire_within_days_cost_a_fraction_of_a_full_sweep(
        sandbox: SandboxServer, sandbox_state: SandboxState, tmp_path: Path, drift: float,
        fraction: int) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, LINKS)
        sandbox_state.faults.drift_per_request = drift
    config = _config(sandbox.base_url, tmp_path / "wh.duckdb")
    _, full_requests = _sync(config, sandbox_state)
    with sandbox_state.lock:
        sandbox_state.simulate_day(new=LINKS // 50, changes=LINKS // 50, old_ratio=0.02)

    incremental, requests = _sync(config, sandbox_state)

    assert incremental.verified, incremental.verdict
    print(f"\n[drift {drift:g}] incremental sync {requests} requests, full sweep "
          f"{full_requests}: {full_requests / requests:.2f}x (at least {fraction}x)")
    assert requests * fraction <= full_requests, (requests, full_requests)


# Two sweeps of a moving list differ by a few requests (links change status while pages are
# in flight, and a status whose count moved is read again): on the moving list the
# incremental sync may exceed the full sweep run after it by that much, on a quiet one not at
# all. Measured over 22 runs of the moving case: the incremental sync cost the full sweep's
# requests -2 to +4 (about 222 each), so 3 failed one run in about fifteen with nothing
# wrong; 5 holds that spread and still fails a plan that read the active links by id
# (hundreds of requests) or swept a status twice (dozens).
@pytest.mark.parametrize(("drift", "noise"), [(0, 0), (1, 5)])
def test_an_account_whose_links_stay_active_costs_no_more_than_a_full_sweep(
        sandbox: SandboxServer, sandbox_state: SandboxState, tmp_path: Path, drift: float,
        noise: int) -> None:
    with sandbox_state.lock:  # a quarter of the links active, of any age, never expiring
        generate_links(sandbox_state, 20_000, active_share=0.25)
        sandbox_state.faults.drift_per_request = drift
    config = _config(sandbox.base_url, tmp_path / "wh.duckdb")
    _sync(config, sandbox_state)
    with sandbox_state.lock:  # a day: 400 new links, 400 active ones changed, of any age
        day = sandbox_state.simulate_day(new=400, changes=400, anywhere=True)
    assert day["changed"] == 400

    incremental, requests = _sync(config, sandbox_state)
    full, full_requests = _sync(config, sandbox_state, full=True)

    assert incremental.verified and full.verified
    assert requests <= full_requests + noise, (incremental.strategy, full.strategy)

"""Incremental sync after a simulated day: exact, and a small fraction of a full sweep."""

from __future__ import annotations

from pathlib import Path

import pytest

from pik_recon.config import load_config
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from pik_recon.syncrun import sync_links
from tests.conftest import API_KEY, sandbox_snapshot, warehouse_rows, warehouse_snapshot

LINKS = 200_000
# A list reshuffled on every request shows each link to a sweep with chance 1 - 1/e, so a
# link stays unseen after r sweeps with chance e**-r: about 3e-4 at the default 8 rounds,
# too much for the thousands of links a day changes; 20 rounds make it 2e-9.
ROUNDS = {"newest": 8, "oldest": 8, "id": 8, "shuffled": 20}


@pytest.mark.parametrize(("ordering", "drift"), [("newest", 0), ("oldest", 0), ("id", 0),
                                                 ("shuffled", 0), ("newest", 30)])
def test_incremental_after_a_day(sandbox: SandboxServer, sandbox_state: SandboxState,
                                 tmp_path: Path, ordering: str, drift: int) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, LINKS)
    config = load_config(db=str(tmp_path / "wh.duckdb"), base_url=sandbox.base_url,
                         env={"PIK_API_KEY": API_KEY},
                         overrides={"pik": {"rate_limit_enabled": False},
                                    "sync": {"repair_rounds": ROUNDS[ordering]}})
    full = sync_links(config)
    assert (full.mode, full.verified) == ("full", True)
    with sandbox_state.lock:
        day = sandbox_state.simulate_day(new=LINKS // 50, changes=LINKS // 50, old_ratio=0.02)
        sandbox_state.set_ordering(ordering)
        sandbox_state.faults.drift_per_page = drift
        sandbox_state.faults.drift_limit = 3_000 if drift else None
    assert day["expired"] > 0 and day["old"] > 0  # expiries and months-old links changed

    incremental = sync_links(config)

    assert (incremental.mode, incremental.verified) == ("incremental", True)
    assert warehouse_snapshot(tmp_path / "wh.duckdb") == sandbox_snapshot(sandbox_state)
    modes = warehouse_rows(tmp_path / "wh.duckdb", "SELECT mode, strategy IS NOT NULL, "
                                                   "requests FROM sync_runs ORDER BY id")
    assert [m[:2] for m in modes] == [("full", True), ("incremental", True)]
    if ordering == "newest" and not drift:
        assert incremental.requests < full.requests / 10

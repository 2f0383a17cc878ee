"""SIGKILL a real `pik-recon sync` at several moments while the list never holds still;
the next sync is verified, with nothing lost and nothing twice."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from tests.conftest import (
    cli_env,
    invoke_cli,
    pik_recon_cmd,
    sandbox_snapshot,
    statuses,
    warehouse_rows,
    warehouse_snapshot,
)

# Kill once the sandbox has answered this many list requests: from the first pages to the
# last ones of the sweep, and during the verification.
KILL_AFTER_REQUESTS = (1, 15, 60, 140, 230, 300)


def _requests(state: SandboxState) -> int:
    with state.lock:
        return sum(state.log.counts.values())


def test_sigkill_at_many_moments_then_sync_completes(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, 30_000)
        sandbox_state.faults.latency_ms = 5
    env = cli_env(workdir, sandbox.base_url)
    db = workdir / "wh.duckdb"
    killed = 0
    for threshold in KILL_AFTER_REQUESTS:
        with sandbox_state.lock:
            sandbox_state.drift(40)  # the world moves between runs too
        start = _requests(sandbox_state)
        proc = subprocess.Popen([*pik_recon_cmd(), "sync", "--full"], env=env, cwd=workdir,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _requests(sandbox_state) - start < threshold and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait(timeout=30)

        existed = set(statuses(sandbox_state))
        done = invoke_cli(["sync", "--full"], env, workdir)

        assert done.returncode == 0, done.stderr
        last = warehouse_rows(db, "SELECT resource, state, verified FROM sync_runs "
                                  "ORDER BY id DESC LIMIT 2")
        assert last == [("transactions", "finished", True), ("links", "finished", True)]
        held = {row[0] for row in warehouse_rows(db, "SELECT id FROM payment_links")}
        assert existed <= held  # nothing lost, kill or no kill
        dupes = warehouse_rows(db, "SELECT count(*) - count(DISTINCT id) FROM payment_links")
        assert dupes == [(0,)]
    assert killed >= 5
    states = dict(warehouse_rows(db, "SELECT state, count(*) FROM sync_runs GROUP BY state"))
    assert states.get("interrupted", 0) == killed

    with sandbox_state.lock:
        sandbox_state.faults.drift_per_request = 0
    quiet = invoke_cli(["sync"], env, workdir)

    assert quiet.returncode == 0, quiet.stderr
    assert warehouse_snapshot(db) == sandbox_snapshot(sandbox_state)

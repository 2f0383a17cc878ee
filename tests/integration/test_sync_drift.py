"""A full sync against the sandbox over loopback, with drift and faults, as a real process."""

from __future__ import annotations

import json
from pathlib import Path

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from tests.conftest import cli_env, run_cli, sandbox_snapshot, warehouse_rows, warehouse_snapshot


def test_sync_with_drift_and_faults_is_verified_then_exact(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, 20_000)
        at_start = set(sandbox_state.links)
        faults = sandbox_state.faults
        faults.rate = 0.10
        faults.fault_latency_ms = 20
        faults.drift_per_page = 50
        faults.drift_limit = 20_000
    env = cli_env(workdir, sandbox.base_url)
    config = workdir / "pik-recon.toml"  # small batches: many hand-overs to the writer
    config.write_text(config.read_text() + "[sync]\nbatch_rows = 1000\n")

    done = run_cli(["sync"], env, workdir)

    assert done.returncode == 0, done.stderr
    db = workdir / "wh.duckdb"
    assert sandbox_state.log.drift_changes > 5_000  # the list really moved under the sync
    assert sum(sandbox_state.log.fault_counts.values()) > 50  # and the network really failed
    verified, totals, new = warehouse_rows(
        db, "SELECT verified, pik_totals, links_new FROM sync_runs")[0]
    assert verified is True
    assert new == warehouse_rows(db, "SELECT count(*) FROM payment_links")[0][0]
    assert json.loads(totals) == sandbox_state.counts()
    ids = {row[0] for row in warehouse_rows(db, "SELECT id FROM payment_links")}
    assert at_start <= ids
    by_status = dict(warehouse_rows(db, "SELECT status, count(*) FROM payment_links "
                                        "GROUP BY status"))
    assert by_status == {s: n for s, n in sandbox_state.counts().items() if n}

    with sandbox_state.lock:
        faults.drift_per_page = 0
        faults.rate = 0.0
    again = run_cli(["sync"], env, workdir)

    assert again.returncode == 0, again.stderr
    assert warehouse_snapshot(db) == sandbox_snapshot(sandbox_state)

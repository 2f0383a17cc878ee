"""SIGKILL a real `pik-recon sync` at several moments of its transactions' run while the
lists never hold still; the next normal sync (full the first time, incremental once a full
one is verified) is verified, with nothing lost, nothing twice and no half-written state."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from pik_recon.sandbox.payments import generate_attempts, generate_transactions
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from tests.conftest import cli_env, invoke_cli, pik_recon_cmd, warehouse_rows
from tests.integration.test_sync_transactions import (
    sandbox_transactions,
    transaction_statuses,
    warehouse_transactions,
)

# Kill once the sandbox has answered this many transactions list requests in the run: its
# first pages, the sweep (about 300 pages) early, midway and late, and its proof.
KILL_AFTER_REQUESTS = (1, 30, 120, 220, 300)


def _transaction_lists(state: SandboxState) -> int:
    with state.lock:
        return state.log.counts["GET /transactions"]


def _consistent(db: Path, finished: bool = True) -> None:
    """Nothing twice, nothing half-written: each transaction held once, its first sighting in
    history once, and its status the last one its history records; once a sync finished, no
    batch file left (a killed one may leave its own, which the next replaces)."""
    assert warehouse_rows(db, "SELECT count(*) - count(DISTINCT id) FROM transactions") == [
        (0,)]
    assert warehouse_rows(db, """
        SELECT count(*) FROM transactions AS t
        WHERE t.status <> (SELECT h.new_status FROM transaction_status_history AS h
                           WHERE h.transaction_id = t.id ORDER BY h.id DESC LIMIT 1)
           OR 1 <> (SELECT count(*) FROM transaction_status_history AS h
                    WHERE h.transaction_id = t.id AND h.old_status IS NULL)""") == [(0,)]
    assert not finished or not (db.parent / f".{db.name}.sync-batch.jsonl").exists()


def test_sigkill_during_the_transactions_run_then_sync_completes(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, 5_000)
        generate_transactions(sandbox_state, list(sandbox_state.links.values()))
        generate_attempts(sandbox_state, 25_000)
        sandbox_state.faults.latency_ms = 5
    config = workdir / "pik-recon.toml"  # merges of 2,000 records: many moments to die in
    config.write_text(config.read_text() + "\n[sync]\nbatch_rows = 2000\n", encoding="utf-8")
    env = cli_env(workdir, sandbox.base_url)
    db = workdir / "wh.duckdb"
    killed, modes = 0, []
    for threshold in KILL_AFTER_REQUESTS:
        with sandbox_state.lock:
            sandbox_state.transactions.drift(40)  # the world moves between runs too
        start = _transaction_lists(sandbox_state)
        proc = subprocess.Popen([*pik_recon_cmd(), "sync", "--full"], env=env, cwd=workdir,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _transaction_lists(sandbox_state) - start < threshold and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        assert proc.poll() is None  # still running: the kill lands in the transactions' run
        proc.send_signal(signal.SIGKILL)
        killed += 1
        proc.wait(timeout=30)
        assert warehouse_rows(db, "SELECT resource FROM sync_runs WHERE state = 'running'") == [
            ("transactions",)]
        _consistent(db, finished=False)

        existed = set(transaction_statuses(sandbox_state))
        done = invoke_cli(["sync"], env, workdir)  # a normal sync: incremental after the first

        assert done.returncode == 0, done.stderr
        last = warehouse_rows(db, "SELECT resource, state, verified FROM sync_runs "
                                  "ORDER BY id DESC LIMIT 2")
        assert last == [("transactions", "finished", True), ("links", "finished", True)]
        modes.append(warehouse_rows(db, "SELECT mode FROM sync_runs WHERE resource = "
                                        "'transactions' ORDER BY id DESC LIMIT 1")[0][0])
        held = {row[0] for row in warehouse_rows(db, "SELECT id FROM transactions")}
        assert existed <= held  # nothing lost, kill or no kill
        _consistent(db)
    assert killed == len(KILL_AFTER_REQUESTS)
    assert modes == ["full"] + ["incremental"] * (killed - 1)  # no verified full sync at first
    interrupted = warehouse_rows(db, "SELECT resource, verdict FROM sync_runs WHERE state = "
                                     "'interrupted'")
    assert interrupted == [("transactions", "interrupted before it finished")] * killed

    with sandbox_state.lock:
        sandbox_state.faults.drift_per_request = 0
        sandbox_state.advance_clock(7_200)  # what is due settles now, nothing while we look
        sandbox_state.transactions.settle_due()
    quiet = invoke_cli(["sync"], env, workdir)

    assert quiet.returncode == 0, quiet.stderr
    assert warehouse_transactions(db) == sandbox_transactions(sandbox_state)
    _consistent(db)

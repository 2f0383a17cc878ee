"""Ctrl-C (SIGINT) and SIGTERM sent to a real `pik-recon` mid-sync: the run is recorded
`interrupted`, nothing half-written is kept, and the next sync completes."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from pik_recon.warehouse import resource_dir
from tests.conftest import cli_env, pik_recon_cmd, run_cli, statuses, warehouse_rows

SIGNALS = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]


def _served(state: SandboxState) -> int:
    with state.lock:
        return state.log.list_requests + state.log.link_requests


def _signal_mid_sync(state: SandboxState, args: list[str], env: dict[str, str], cwd: Path,
                     signum: int) -> subprocess.CompletedProcess[str]:
    """Start the console script, send `signum` once the sandbox has answered 20 requests,
    and wait for it to end."""
    start = _served(state)
    # as from a terminal, where Ctrl-C reaches the program: a shell running this suite in
    # the background hands its children SIGINT ignored, and a program keeps that
    proc = subprocess.Popen([*pik_recon_cmd(), *args], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_sigint_as_on_a_terminal)
    deadline = time.monotonic() + 60
    while _served(state) - start < 20:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.002)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _sigint_as_on_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _slow(state: SandboxState) -> None:
    with state.lock:  # a sync of about 200 pages, each answered in 40 ms
        generate_links(state, 20_000)
        state.faults.latency_ms = 40


@pytest.mark.parametrize(("signum", "code"), SIGNALS)
def test_a_signal_mid_sync_records_the_run_interrupted(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path, signum: int,
        code: int) -> None:
    _slow(sandbox_state)
    env = cli_env(workdir, sandbox.base_url)
    db = workdir / "wh.duckdb"
    name = signal.Signals(signum).name

    stopped = _signal_mid_sync(sandbox_state, ["sync"], env, workdir, signum)

    assert stopped.returncode == code, stopped.stderr
    assert warehouse_rows(db, "SELECT state, verified, verdict, error, finished_at IS NOT NULL "
                              "FROM sync_runs WHERE resource = 'links'") == [
        ("interrupted", False, f"not verified: interrupted by {name}",
         f"interrupted by {name}", True)]
    assert stopped.stderr.rstrip().endswith(f"Interrupted by {name}.")
    assert not (workdir / ".wh.duckdb.sync-batch.jsonl").exists()

    existed = set(statuses(sandbox_state))
    done = run_cli(["sync"], env, workdir)

    assert done.returncode == 0, done.stderr
    assert warehouse_rows(db, "SELECT resource, state, verified FROM sync_runs ORDER BY id") == [
        ("links", "interrupted", False), ("links", "finished", True),
        ("transactions", "finished", True)]
    held = {row[0] for row in warehouse_rows(db, "SELECT id FROM payment_links")}
    assert existed <= held
    assert warehouse_rows(db, "SELECT count(*) - count(DISTINCT id) FROM payment_links") == [
        (0,)]


def test_ctrl_c_during_a_jobs_sync_records_the_job_run_interrupted(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    _slow(sandbox_state)
    jobs = workdir / "jobs"
    jobs.mkdir()
    orders = resource_dir("sample_data") / "orders.csv"
    (jobs / "nightly.toml").write_text(f"""[schedule]
cron = "30 2 * * *"
timezone = "UTC"

[[steps]]
type = "sync"

[[steps]]
type = "reconcile"
orders = "{orders}"
""", encoding="utf-8")
    config = workdir / "pik-recon.toml"
    config.write_text(config.read_text() + f'\n[jobs]\ndir = "{jobs}"\n', encoding="utf-8")
    db = workdir / "wh.duckdb"

    stopped = _signal_mid_sync(sandbox_state, ["run", "nightly"], cli_env(workdir,
                                                                         sandbox.base_url),
                               workdir, signal.SIGINT)

    assert stopped.returncode == 130, stopped.stderr
    (outcome, exit_code, steps, error), = warehouse_rows(
        db, "SELECT outcome, exit_code, steps, error FROM job_runs")
    assert (outcome, exit_code, error) == ("interrupted", 130, "interrupted by SIGINT")
    assert [(s["step"], s["outcome"]) for s in json.loads(steps)] == [("sync", "interrupted")]
    assert warehouse_rows(db, "SELECT resource, state, verdict FROM sync_runs") == [
        ("links", "interrupted", "not verified: interrupted by SIGINT")]

"""Jobs: one run at a time across processes, the scheduler, notifications."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import duckdb
import pytest

from pik_recon.jobs.runner import job_lock
from pik_recon.sandbox.seed import sample_links_path, seed_from_file
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState
from pik_recon.warehouse import Warehouse, resource_dir
from tests.conftest import cli_env, invoke_cli, pik_recon_cmd, run_cli

ORDERS = resource_dir("sample_data") / "orders.csv"


def _job(folder: Path, schedule: str, report_out: Path, notify: bool = True) -> None:
    jobs = folder / "jobs"
    jobs.mkdir(exist_ok=True)
    text = f"""[schedule]
{schedule}
timezone = "UTC"

[[steps]]
type = "sync"

[[steps]]
type = "reconcile"
orders_glob = "{folder}/drop/orders-*.csv"

[[steps]]
type = "report"
since = "365d"
out = "{report_out}"
fail_on = "never"
"""
    if notify:
        text += '\n[[steps]]\ntype = "notify"\nwhen = ["failure", "critical"]\n'
    (jobs / "nightly.toml").write_text(text, encoding="utf-8")
    drop = folder / "drop"
    drop.mkdir(exist_ok=True)
    (drop / "orders-old.csv").write_text("order_id,amount,currency,status,created_at\n")
    newest = drop / "orders-new.csv"
    newest.write_bytes(ORDERS.read_bytes())
    newest.touch()


@pytest.fixture
def slow_sandbox(sandbox_state: SandboxState, sandbox: SandboxServer) -> SandboxServer:
    with sandbox_state.lock:
        seed_from_file(sandbox_state, sample_links_path())
    return sandbox


def _config(workdir: Path, webhook: str | None) -> None:
    text = (workdir / "pik-recon.toml").read_text()
    text += f'\n[jobs]\ndir = "{workdir / "jobs"}"\n'
    if webhook:
        text += f'\n[notify]\nwebhook_url = "{webhook}"\nretries = 2\ntimeout_seconds = 1\n'
    (workdir / "pik-recon.toml").write_text(text)


def _job_runs(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT job, trigger, outcome, exit_code FROM job_runs "
                           "ORDER BY id").fetchall()
    finally:
        con.close()


def test_two_runs_at_once_and_a_killed_holder(slow_sandbox: SandboxServer,
                                              sandbox_state: SandboxState,
                                              workdir: Path) -> None:
    _job(workdir, 'cron = "30 2 * * *"', workdir / "reports" / "{date}", notify=False)
    _config(workdir, None)
    # The sandbox answers nothing while the test holds its lock, so the first run, once it
    # holds the job's lock, is still syncing when the second starts, however slow the
    # machine (its requests wait without timing out).
    config = workdir / "pik-recon.toml"
    config.write_text(config.read_text().replace("timeout_seconds = 5",
                                                 "timeout_seconds = 600"))
    env = cli_env(workdir, slow_sandbox.base_url)
    lock_file = workdir / ".wh.duckdb.locks" / "nightly.lock"
    with sandbox_state.lock:
        first = subprocess.Popen([*pik_recon_cmd(), "run", "nightly"], env=env, cwd=workdir,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # holding the lock, then recorded in job_runs, then syncing: its first request
            # to the sandbox (a connection the sandbox accepted) comes after its record
            _wait_for(lambda: _accepted(slow_sandbox.port))
            assert lock_file.read_text()
            second = run_cli(["run", "nightly"], env, workdir, timeout=120)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
    assert second.returncode == 4
    holder = json.loads(lock_file.read_text())
    assert f"job 'nightly' is already running: pid {first.pid} on {holder['host']}" in (
        second.stderr)

    third = run_cli(["run", "nightly"], env, workdir)
    assert third.returncode == 0, third.stderr
    assert "reconcile: ok (orders_file " in third.stdout and "orders-new.csv" in third.stdout
    assert _job_runs(workdir / "wh.duckdb") == [("nightly", "manual", "interrupted", None),
                                                ("nightly", "manual", "ok", 0)]


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_notification_reaches_the_webhook(slow_sandbox: SandboxServer, workdir: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.received.clear()
    _job(workdir, 'cron = "30 2 * * *"', workdir / "out")
    _config(workdir, f"http://127.0.0.1:{server.server_address[1]}/hook?token=s3cret")
    done = run_cli(["run", "nightly"], cli_env(workdir, slow_sandbox.base_url), workdir)
    server.shutdown()
    assert done.returncode == 0, done.stderr
    assert len(_Receiver.received) == 1
    payload = _Receiver.received[0]
    assert payload["job"] == "nightly"
    assert payload["critical_findings"] > 0
    assert payload["text"].startswith(
        f"pik-recon job nightly (run 1): done, {payload['critical_findings']} critical findings "
        f"and {payload['warning_findings']} warning findings need attention (exit 0 because "
        "the report step's fail_on is never)")
    assert [s["step"] for s in payload["steps"]] == ["sync", "reconcile", "report"]
    assert "s3cret" not in done.stderr + done.stdout


def test_dead_receiver_does_not_fail_the_job(slow_sandbox: SandboxServer,
                                             workdir: Path) -> None:
    _job(workdir, 'cron = "30 2 * * *"', workdir / "out")
    _config(workdir, "http://127.0.0.1:9/hook")
    done = run_cli(["run", "nightly"], cli_env(workdir, slow_sandbox.base_url), workdir)
    assert done.returncode == 0, done.stderr
    assert "WARNING notification to 127.0.0.1 not delivered after 3 attempts" in done.stderr
    assert "notify: not delivered" in done.stdout


class _Scheduler:
    """`pik-recon scheduler` as a real process, its log lines read as they come, so a test
    waits for what the scheduler says it did, never for a time."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([*pik_recon_cmd(), "scheduler"], env=env, cwd=workdir,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: list[str] = []
        self._said = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._said:
                self.lines.append(line.rstrip("\n"))
                self._said.notify_all()

    def said(self, text: str) -> list[str]:
        with self._said:
            return [line for line in self.lines if text in line]

    def wait_for(self, text: str, count: int = 1, seconds: float = 120) -> None:
        """Until `count` log lines hold `text`; the log so far if they do not come."""
        with self._said:
            came = self._said.wait_for(
                lambda: len([x for x in self.lines if text in x]) >= count, seconds)
            assert came, "\n".join(self.lines)

    def stop(self) -> int:
        """SIGTERM, then the exit code once the process and its log have ended."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=120)
        self._reader.join(timeout=30)
        return code


def _accepted(port: int) -> bool:
    """A TCP connection to this loopback port is established (Linux: /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
            return True
    return False


def _wait_for(predicate: Callable[[], object], seconds: float = 60) -> None:
    """Until a file or the sandbox shows what a test waits for."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_scheduler_runs_on_its_trigger(slow_sandbox: SandboxServer, workdir: Path) -> None:
    _job(workdir, "every_seconds = 1", workdir / "out" / "{date}", notify=False)
    _config(workdir, None)
    scheduler = _Scheduler(workdir, cli_env(workdir, slow_sandbox.base_url))
    scheduler.wait_for(": ok (exit 0)", count=2)

    assert scheduler.stop() == 0
    runs = _job_runs(workdir / "wh.duckdb")
    assert {r[1] for r in runs} == {"scheduled"}
    assert [r[2:] for r in runs[:2]] == [("ok", 0), ("ok", 0)]


def test_missed_run_executes_once_at_startup(slow_sandbox: SandboxServer,
                                             workdir: Path) -> None:
    _job(workdir, 'cron = "0 3 * * *"', workdir / "out" / "{date}", notify=False)
    _config(workdir, None)
    env = cli_env(workdir, slow_sandbox.base_url)
    db = workdir / "wh.duckdb"
    with Warehouse.open(db) as wh:  # the last run was three days ago: runs were missed
        wh.execute("INSERT INTO job_runs VALUES (nextval('job_runs_seq'), 'nightly', "
                   "'scheduled', 'h', 1, now() - INTERVAL 3 DAY, now() - INTERVAL 3 DAY, 'ok', "
                   "0, '[]', NULL, ['default'])")
    scheduler = _Scheduler(workdir, env)
    # what the scheduler queues at start-up runs at once, side by side: a second catch-up run
    # would have started (and run, or met the job's lock) before the first one ended
    scheduler.wait_for("job nightly run ")

    assert scheduler.stop() == 0
    assert len(scheduler.said("missed a run while pik-recon was not running")) == 1
    assert len(scheduler.said("job nightly run ")) == 1
    assert scheduler.said("skipping this run") == []
    assert [r[1] for r in _job_runs(db)] == ["scheduled", "missed"]


def test_sigterm_during_a_run_leaves_no_lock_and_no_partial_report(
        slow_sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    out = workdir / "out"
    _job(workdir, "every_seconds = 1", out, notify=False)
    _config(workdir, None)
    sandbox_state.faults.latency_ms = 200
    scheduler = _Scheduler(workdir, cli_env(workdir, slow_sandbox.base_url))
    db = workdir / "wh.duckdb"
    # the run's sync is paging (the sandbox says so; the warehouse is the run's to hold)
    _wait_for(lambda: sandbox_state.log.counts["GET /payment-links"] > 2)
    assert scheduler.stop() == 0
    runs = _job_runs(db)
    assert runs[-1][2] == "interrupted"
    with job_lock(db, "nightly"):  # free: taking it does not raise
        pass
    leftovers = [p.name for p in workdir.rglob(".report-*")]
    assert leftovers == []
    if out.exists():  # a report is either whole or absent
        assert {p.name for p in out.iterdir()} in (set(), {
            "summary.csv", "findings.csv", "report.json", "report.xlsx", "report.html"})


BAD_JOB = """[schedule]
cron = "30 2 * *"
timezone = "Mars/Olympus"

[[steps]]
type = "sync"
full = "yes"

[[steps]]
type = "reconcile"
orders = "a.csv"
orders_glob = "./drop/*.csv"

[[steps]]
type = "report"
since = "7 days"
fail_on = "high"
out = "./reports/{day}"
formats = ["csv", "pdf"]

[[steps]]
type = "notify"
when = "failure"
"""


def test_every_bad_value_of_a_job_file_is_named_and_nothing_runs(
        slow_sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    _job(workdir, 'cron = "30 2 * * *"', workdir / "out")
    _config(workdir, None)
    job = workdir / "jobs" / "nightly.toml"
    job.write_text(BAD_JOB, encoding="utf-8")
    env = cli_env(workdir, slow_sandbox.base_url)

    check = invoke_cli(["run", "nightly", "--check"], env, workdir)
    run = invoke_cli(["run", "nightly"], env, workdir)

    assert check.returncode == run.returncode == 2
    for words in ("[schedule] timezone = 'Mars/Olympus': not a time zone",
                  "[schedule] cron = '30 2 * *': expected five fields",
                  "step 1 (sync) full = 'yes': expected true or false",
                  "step 2 (reconcile) has both orders and orders_glob",
                  "step 3 (report) since = '7 days': not a time; accepted forms",
                  "step 3 (report) fail_on = 'high': expected one of never, warning, critical",
                  "step 3 (report) out = './reports/{day}': only {date}",
                  "step 3 (report) formats = ['csv', 'pdf']: report formats",
                  "step 4 (notify) when = 'failure': expected a list of failure and/or "
                  "critical"):
        assert f"{job}: {words}" in check.stderr
        assert words in run.stderr
    assert f"{job}: 9 problem(s), nothing was run" in check.stderr
    assert sum(sandbox_state.log.counts.values()) == 0  # refused before any sync
    assert not (workdir / "wh.duckdb").exists()


def test_a_good_job_file_checks_ok_with_its_next_run(workdir: Path) -> None:
    _job(workdir, 'cron = "30 2 * * *"', workdir / "out")
    _config(workdir, None)
    done = invoke_cli(["run", "nightly", "--check"],
                      cli_env(workdir, "http://127.0.0.1:9/v1"), workdir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{workdir / 'jobs' / 'nightly.toml'}: ok (4 steps: sync, "
                                  "reconcile, report, notify); next run ")


def test_under_log_format_json_every_line_is_one_json_object(
        slow_sandbox: SandboxServer, workdir: Path) -> None:
    _job(workdir, 'cron = "30 2 * * *"', workdir / "out")
    _config(workdir, None)
    done = invoke_cli(["--log-format", "json", "run", "nightly"],
                      cli_env(workdir, slow_sandbox.base_url), workdir)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    err = [json.loads(line) for line in done.stderr.splitlines()]
    assert [o["result"] for o in out] == ["job"]
    assert out[0]["steps"][0]["step"] == "sync" and out[0]["exit_code"] == 0
    assert len(err) > 3 and all({"time", "level", "message"} <= set(e) for e in err)
    failing = invoke_cli(["--log-format", "json", "--db", str(workdir), "run", "nightly"],
                         cli_env(workdir, slow_sandbox.base_url), workdir)
    assert failing.returncode == 2
    assert [json.loads(line)["level"] for line in failing.stderr.splitlines()] == ["error"]


def test_a_jobs_as_of_without_an_offset_is_read_in_the_jobs_timezone(
        sandbox: SandboxServer, workdir: Path) -> None:
    jobs = workdir / "jobs"
    jobs.mkdir()
    (jobs / "tokyo.toml").write_text('[schedule]\ncron = "0 3 * * *"\ntimezone = "Asia/Tokyo"\n'
                                     '\n[[steps]]\ntype = "sync"\n\n[[steps]]\n'
                                     'type = "reconcile"\nas_of = "2026-11-20"\n',
                                     encoding="utf-8")
    done = invoke_cli(["run", "tokyo"], cli_env(workdir, sandbox.base_url), workdir)
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(workdir / "wh.duckdb"), read_only=True) as wh:
        assert wh.execute("SELECT strftime(as_of AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') "
                          "FROM reconcile_runs").fetchall() == [("2026-11-19 15:00",)]

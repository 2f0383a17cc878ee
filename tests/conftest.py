"""Shared fixtures: a real sandbox on a loopback port, configs, CLI runs in-process and as
subprocesses."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from pik_recon.cli import main
from pik_recon.logs import LOGGER_NAME
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import Faults, SandboxState
from pik_recon.warehouse import migrations

# Distinctive, so a grep for it can only find a leak.
API_KEY = "sk_test_ZEBRA7q9Xw2LmP4vN8kR"
FAST_RETRIES = """
[pik]
backoff_base_seconds = 0.01
backoff_cap_seconds = 0.2
timeout_seconds = 5
connect_timeout_seconds = 2
rate_limit_enabled = false
"""


# `make test` hands the files to its two workers in collection order (`--no-loadscope-reorder`:
# xdist would put the files of most tests first), a file at a time as a worker comes free: the
# longest ones (about 30 s and more each, from `--durations=0`) go first, so the two workers
# do not end with one of them running a long file alone.
LONGEST_FILES = ("test_incremental.py", "test_sync_transactions.py",
                 "test_reconcile_generated.py", "test_bulk_create.py", "test_export.py",
                 "test_webhooks_kill.py", "test_make_demo.py", "test_accounts.py",
                 "test_sync_transactions_kill.py", "test_jobs.py", "test_three_way.py",
                 "test_report_rendering.py", "test_sync_drift.py", "test_sync_kill.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first = {name: rank for rank, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: first.get(item.path.name, len(first)))


# PIK's lists never hold still on a live account: the sandbox of the tests changes before
# every list request, for as long as it runs. A test that needs a quiet list says so.
DRIFT = 1.0


@pytest.fixture
def sandbox_state() -> SandboxState:
    return SandboxState(api_key=API_KEY, seed=11,
                        faults=Faults(rate_limit_enabled=False, retry_after_seconds=0,
                                      drift_per_request=DRIFT))


@pytest.fixture
def sandbox(sandbox_state: SandboxState) -> Iterator[SandboxServer]:
    with SandboxServer(sandbox_state) as server:
        yield server


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A PIK URL on a loopback port held bound and never listening: every connection is
    refused, and no other test's server can take the port while the test runs."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}/v1"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "pik-recon.toml").write_text(FAST_RETRIES, encoding="utf-8")
    return tmp_path


def cli_env(workdir: Path, base_url: str, key: str | None = API_KEY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIK_", "PIK_RECON_"))}
    env.update(PIK_BASE_URL=base_url, PIK_RECON_DB=str(workdir / "wh.duckdb"),
               PIK_RECON_CONFIG=str(workdir / "pik-recon.toml"))
    if key is not None:
        env["PIK_API_KEY"] = key
    return env


def pik_recon_cmd() -> list[str]:
    return [sys.executable, "-m", "pik_recon"]


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*pik_recon_cmd(), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@dataclass(frozen=True)
class CliRun:
    """What an in-process `pik-recon` run left: as a subprocess's, for the same asserts."""

    returncode: int
    stdout: str
    stderr: str


def invoke_cli(args: Sequence[str], env: dict[str, str], cwd: Path) -> CliRun:
    """`pik-recon ARGS` through the console entry point in this process (click's CliRunner),
    for option and exit-code tests that need no real process: `env` is the whole
    environment, `cwd` the working folder; the umask, the folder and the logging the entry
    point changes are put back."""
    overrides: dict[str, str | None] = {k: None for k in os.environ if k not in env}
    overrides.update(env)
    root, ours = logging.getLogger(), logging.getLogger(LOGGER_NAME)
    handlers, levels = root.handlers[:], (root.level, ours.level)
    umask, folder = os.umask(0o077), Path.cwd()
    try:
        os.chdir(cwd)
        with CliRunner().isolation(env=overrides) as (out, err, _):
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
            sys.stdout.flush()
            sys.stderr.flush()
            return CliRun(code, out.getvalue().decode(), err.getvalue().decode())
    finally:
        os.chdir(folder)
        os.umask(umask)
        root.handlers[:] = handlers
        root.setLevel(levels[0])
        ours.setLevel(levels[1])


def warehouse_rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def sandbox_snapshot(state: SandboxState) -> set[tuple]:
    """(id, status, amount, currency, description, created_at, paid_at) as PIK lists them;
    injected malformed records left out."""
    with state.lock:
        return {(d["id"], d["status"], d["amount"], d["currency"], d["description"],
                 d["created_at"], d.get("paid_at"))
                for d in (link.as_dict() for link in state.links.values()
                          if link.raw is None)}


def record_sync(con: Any, account: str = "default") -> None:
    """A finished sync run for a warehouse whose links a test put in directly (reconcile
    refuses an account no sync has filled). `con` is a Warehouse or a duckdb connection."""
    con.execute("INSERT INTO sync_runs (id, account, mode, started_at, finished_at, state, "
                "verified, verdict) VALUES (nextval('sync_runs_seq'), ?, 'full', now(), now(), "
                "'finished', true, 'links written by the test')", [account])


def served(state: SandboxState) -> int:
    """Requests the sandbox answered (list pages and single links), failed ones left out."""
    with state.lock:
        return state.log.list_requests + state.log.link_requests


def statuses(state: SandboxState) -> dict[str, str]:
    with state.lock:
        return {link.id: link.status for link in state.links.values() if link.raw is None}


def warehouse_snapshot(db: Path) -> set[tuple]:
    rows = warehouse_rows(db, """
        SELECT id, status, amount_text, currency, description,
               strftime(created_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ'),
               strftime(paid_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')
        FROM payment_links""")
    return set(rows)


# Two accounts' keys, as distinctive as API_KEY: a grep for either can only find a leak.
ACCOUNT_KEYS = {"north": "sk_test_NORTH_Q7xK2pL9vB", "south": "sk_test_SOUTH_W3mZ8rT4cJ"}


def write_accounts_config(workdir: Path, urls: dict[str, str], extra: str = "") -> None:
    """pik-recon.toml with one [accounts.NAME] per url, its key in PIK_KEY_<NAME>."""
    text = FAST_RETRIES + "".join(
        f'\n[accounts.{name}]\nkey_env = "PIK_KEY_{name.upper()}"\nbase_url = "{url}"\n'
        for name, url in urls.items()) + extra
    (workdir / "pik-recon.toml").write_text(text, encoding="utf-8")


def accounts_env(workdir: Path, keys: dict[str, str]) -> dict[str, str]:
    """The environment of a CLI run with several accounts: each key in its own variable, no
    PIK_API_KEY or PIK_BASE_URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIK_")}
    env.update(PIK_RECON_DB=str(workdir / "wh.duckdb"),
               PIK_RECON_CONFIG=str(workdir / "pik-recon.toml"),
               **{f"PIK_KEY_{name.upper()}": key for name, key in keys.items()})
    return env


def json_results(stdout: str, kind: str) -> list[dict[str, Any]]:
    """The result objects of one kind a --log-format json command printed."""
    found = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            item = json.loads(line)
            if item.get("result") == kind:
                found.append(item)
    return found


def warehouse_at(db: Path, version: int) -> duckdb.DuckDBPyConnection:
    """A connection to a new warehouse as a release that stopped at migration `version` left
    it, for tests of the migrations after it."""
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
                "applied_at TIMESTAMPTZ)")
    for number, name, text in migrations():
        if number <= version:
            con.execute(text)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [number, name])
    return con

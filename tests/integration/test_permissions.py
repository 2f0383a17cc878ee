"""Customer payment data is readable by its owner only: everything pik-recon creates is
0600 (folders 0700) even when it is started under umask 0022, as cron and most shells do."""

from __future__ import annotations

import contextlib
import stat
import subprocess
import time
from pathlib import Path

from pik_recon.sandbox.seed import seed_from_file
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState
from pik_recon.warehouse import Warehouse
from tests.conftest import cli_env, pik_recon_cmd

JOB = """[schedule]
cron = "30 2 * * *"
[[steps]]
type = "sync"
[[steps]]
type = "reconcile"
orders = "data/orders.csv"
[[steps]]
type = "report"
since = "365d"
out = "reports/{date}"
[[steps]]
type = "export"
dir = "export-nightly"
"""


def _run(args: list[str], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run([*pik_recon_cmd(), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=600, umask=0o022)
    assert done.returncode in (0, 1), (args, done.stderr)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _sync_watching(env: dict[str, str], cwd: Path, db: Path) -> dict[str, int]:
    """A sync, and the modes of the files that live only while it runs: the WAL and the
    batch file."""
    fleeting = [db.with_name(f"{db.name}.wal"), db.with_name(f".{db.name}.sync-batch.jsonl")]
    seen: dict[str, int] = {}
    proc = subprocess.Popen([*pik_recon_cmd(), "sync", "--full"], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, umask=0o022)
    while proc.poll() is None:
        for path in fleeting:
            with contextlib.suppress(FileNotFoundError):
                seen.setdefault(path.name, _mode(path))
        time.sleep(0.001)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    return seen


def test_everything_pik_recon_creates_is_its_owners_only_under_umask_0022(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    (workdir / "jobs").mkdir()
    (workdir / "jobs" / "nightly.toml").write_text(JOB)
    (workdir / "invoices.csv").write_text("order_id,amount,currency\nB1,12.50,USDT\n")
    ours = {p for p in workdir.rglob("*")}  # the test's own files, whatever their mode
    env = cli_env(workdir, sandbox.base_url)
    db = workdir / "wh.duckdb"

    _run(["sandbox", "generate", "--orders", "400", "--seed", "3", "--out", "data"], env,
         workdir)
    with sandbox_state.lock:
        sandbox_state.faults.latency_ms = 2  # a sync long enough to watch its WAL
    seed_from_file(sandbox_state, workdir / "data" / "links.jsonl")
    fleeting = _sync_watching(env, workdir, db)
    _run(["reconcile", "--orders", "data/orders.csv", "--as-of", "2026-11-20T12:00:00Z"], env,
         workdir)
    _run(["report", "--since", "365d", "--out", "reports/mine"], env, workdir)
    _run(["export", "parquet", "export"], env, workdir)
    _run(["links", "create", "invoices.csv", "--out", "out/links.csv"], env, workdir)
    _run(["run", "nightly"], env, workdir)

    created = {p for p in workdir.rglob("*") if p not in ours}
    names = {str(p.relative_to(workdir)) for p in created}
    for expected in ("wh.duckdb", ".wh.duckdb.locks", ".wh.duckdb.locks/nightly.lock",
                     "data/orders.csv", "data/pik-recon.toml", "reports/mine/report.html",
                     "reports/mine/report.xlsx", "reports/mine/findings.csv",
                     "export/manifest.json", "export/.export.lock",
                     "export-nightly/manifest.json", "out/links.csv"):
        assert expected in names, expected
    assert any(n.endswith(".parquet") for n in names)
    assert [n for n in names if n.startswith("reports/20")]  # the job's report
    assert set(fleeting) == {"wh.duckdb.wal", ".wh.duckdb.sync-batch.jsonl"}
    assert set(fleeting.values()) == {0o600}
    wrong = {str(p.relative_to(workdir)): oct(_mode(p)) for p in created
             if _mode(p) != (0o700 if p.is_dir() else 0o600)}
    assert wrong == {}


def test_a_warehouse_every_user_could_read_is_made_its_owners_at_open(workdir: Path) -> None:
    """As versions that left it 0644 under umask 022 did; a mode chosen for a group stays."""
    env = cli_env(workdir, "http://127.0.0.1:9/v1")
    for name, before, after in (("old.duckdb", 0o644, 0o600), ("group.duckdb", 0o640, 0o640)):
        db = workdir / name
        Warehouse.open(db).close()
        db.chmod(before)
        done = subprocess.run([*pik_recon_cmd(), "--db", str(db), "status"], env=env,
                              cwd=workdir, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert _mode(db) == after, name
        assert (f"{db} was readable by every user of this machine (mode 644); it is now 600"
                in done.stderr) == (before == 0o644)

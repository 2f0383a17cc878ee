"""The file system's mistakes through the real console script: a folder the user may not
write, a read-only disk and a full one during sync, report and export. Each is exit 2
(permission, read-only) or 4 (no space) naming the path, and leaves nothing half-written.

The tests run as root here and in CI, and root ignores permission bits: a command that must
meet them runs with the capabilities that override them dropped (setpriv). A small or
read-only disk is a tmpfs mounted in a mount namespace of the command's own (unshare), so
nothing outlives the run; what the disk held afterwards is copied out for the assertions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from pik_recon.warehouse import Warehouse
from tests.conftest import cli_env, pik_recon_cmd, run_cli, warehouse_rows
from tests.integration.test_report import SINCE, UNTIL, build_sample_warehouse

ROOT = os.geteuid() == 0
# root without the capabilities that let it ignore permission bits: an ordinary user's view
UNPRIVILEGED = (["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
                if ROOT else [])
# a mount namespace of the command's own, where it may mount a tmpfs
NAMESPACE = (["unshare", "--mount", "--propagation", "private"] if ROOT else
             ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"])
ON_DISK = ('mount -t tmpfs -o "$1" tmpfs "$2" || exit 99; disk="$2"; kept="$3"; shift 3; '
           '"$@"; code=$?; cp -a "$disk"/. "$kept"/; exit $code')


def run_unprivileged(args: list[str], env: dict[str, str], cwd: Path
                     ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*UNPRIVILEGED, *pik_recon_cmd(), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def run_on_disk(args: list[str], env: dict[str, str], cwd: Path, disk: Path, options: str
                ) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the console script with `disk` a tmpfs mounted with `options` (e.g. "size=64k");
    returns the run and a folder holding what the disk held when it ended."""
    disk.mkdir(exist_ok=True)
    kept = disk.with_name(f"{disk.name}-after")
    kept.mkdir()
    done = subprocess.run([*NAMESPACE, "sh", "-c", ON_DISK, "sh", options, str(disk),
                           str(kept), *pik_recon_cmd(), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode != 99, f"cannot mount a tmpfs here: {done.stderr}"
    return done, kept


def locked_folder(path: Path) -> Path:
    """A folder the command may read but not write."""
    path.mkdir()
    if ROOT:
        os.chown(path, 65534, 65534)  # someone else's, mode 0755
    else:
        path.chmod(0o555)
    return path


def inventory(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("sample") / "wh.duckdb"
    build_sample_warehouse(db)
    return db


@pytest.fixture
def synced(sample_db: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A warehouse with links, orders and findings, and the environment naming it."""
    db = tmp_path / "wh.duckdb"
    shutil.copy(sample_db, db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIK_")}
    return db, {**env, "PIK_RECON_DB": str(db), "HOME": str(tmp_path)}


REPORT = ["report", "--since", SINCE, "--until", UNTIL, "--format", "csv,json,xlsx,html"]


def test_report_into_a_folder_the_user_cannot_write_is_exit_2_naming_it(
        synced: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    _, env = synced
    locked = locked_folder(tmp_path / "theirs")
    done = run_unprivileged([*REPORT, "--out", str(locked)], env, tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"--out {locked}: cannot write" in done.stderr
    assert "permission denied" in done.stderr
    assert "Traceback" not in done.stderr
    assert inventory(locked) == set()
    assert not list(tmp_path.glob(".report-*"))


def test_export_into_a_folder_the_user_cannot_write_is_exit_2_naming_it(
        synced: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    _, env = synced
    locked = locked_folder(tmp_path / "theirs")
    done = run_unprivileged(["export", "parquet", str(locked)], env, tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"the export folder {locked}: cannot write" in done.stderr
    assert "permission denied" in done.stderr
    assert inventory(locked) == set()


def test_links_create_into_a_folder_the_user_cannot_write_sends_nothing(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    (workdir / "invoices.csv").write_text("order_id,amount,currency\nA1,10.00,USDT\n")
    locked = locked_folder(workdir / "theirs")
    env = {**cli_env(workdir, sandbox.base_url), "HOME": str(workdir)}
    done = run_unprivileged(["links", "create", str(workdir / "invoices.csv"), "--out",
                             str(locked / "links.csv")], env, workdir)
    assert done.returncode == 2, done.stderr
    assert f"--out {locked / 'links.csv'}: cannot write {locked}: permission denied" in (
        done.stderr)
    assert sandbox_state.log.counts["POST /payment-links"] == 0
    assert not (workdir / "wh.duckdb").exists()  # refused before the ledger was opened


def test_a_job_whose_lock_folder_cannot_be_made_is_exit_2_naming_it(
        synced: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    db, env = synced
    folder = tmp_path / "shared"
    folder.mkdir()
    shutil.move(db, folder / "wh.duckdb")
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "nightly.toml").write_text(
        '[schedule]\ncron = "30 2 * * *"\n[[steps]]\ntype = "report"\nout = "r"\n')
    if ROOT:
        os.chown(folder, 65534, 65534)
    else:
        folder.chmod(0o555)
    done = run_unprivileged(["--db", str(folder / "wh.duckdb"), "run", "nightly"], env,
                            tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"the jobs' lock folder {folder / '.wh.duckdb.locks'}: cannot" in done.stderr
    assert "permission denied" in done.stderr


@pytest.mark.parametrize("args", [[*REPORT, "--out", "{disk}"],
                                  ["export", "parquet", "{disk}"]], ids=["report", "export"])
def test_a_read_only_disk_is_exit_2_naming_the_folder(
        synced: tuple[Path, dict[str, str]], tmp_path: Path, args: list[str]) -> None:
    _, env = synced
    disk = tmp_path / "disk"
    done, kept = run_on_disk([a.format(disk=disk) for a in args], env, tmp_path, disk,
                             "ro,size=1m")
    assert done.returncode == 2, done.stderr
    assert f"{disk}: cannot write" in done.stderr
    assert "the file system is read-only" in done.stderr
    assert inventory(kept) == set()


def test_a_full_disk_during_a_report_is_exit_4_and_leaves_no_report(
        synced: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    _, env = synced
    disk = tmp_path / "disk"
    done, kept = run_on_disk([*REPORT, "--out", str(disk / "2026-11")], env, tmp_path, disk,
                             "size=16k")
    assert done.returncode == 4, done.stderr
    assert f"--out {disk / '2026-11'}: cannot write" in done.stderr
    assert "no space left on the device; free some space and run again" in done.stderr
    assert "Traceback" not in done.stderr
    assert inventory(kept) == {"2026-11"}  # the folder it made, and no file half-written


def test_a_full_disk_during_an_export_is_exit_4_and_the_next_export_completes(
        synced: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    db, env = synced
    disk = tmp_path / "disk"
    done, kept = run_on_disk(["export", "parquet", str(disk)], env, tmp_path, disk,
                             "size=24k")
    assert done.returncode == 4, done.stderr
    assert f"the export folder {disk}: cannot write" in done.stderr
    assert "no space left on the device" in done.stderr
    assert inventory(kept) == {"manifest.json", ".export.lock"}  # no file half-written
    assert json.loads((kept / "manifest.json").read_text())["tables"] == {}

    again = run_cli(["export", "parquet", str(kept)], env, tmp_path)
    assert again.returncode == 0, again.stderr
    links = ds.dataset(kept / "payment_links", format="parquet", partitioning="hive")
    assert links.count_rows() == warehouse_rows(db, "SELECT count(*) FROM payment_links")[0][0]


LINKS = 30_000


@pytest.fixture
def many_links(sandbox_state: SandboxState) -> SandboxState:
    """Enough links that one batch file is about 10 MB, and the warehouse grows by 5 MB."""
    with sandbox_state.lock:
        generate_links(sandbox_state, LINKS)
    return sandbox_state


# (tmpfs size, the file that cannot be written): a disk too small for the batch file, and
# one that holds it but not what DuckDB then writes (both measured with 30,000 links)
FULL_DURING_SYNC = [("4m", "the sync's batch file {disk}/.wh.duckdb.sync-batch.jsonl"),
                    ("12m", "warehouse {disk}/wh.duckdb: cannot write")]


@pytest.mark.parametrize(("size", "named"), FULL_DURING_SYNC, ids=["batch file", "warehouse"])
def test_a_full_disk_during_a_sync_is_exit_4_and_loses_nothing(
        sandbox: SandboxServer, many_links: SandboxState, workdir: Path, size: str,
        named: str) -> None:
    disk = workdir / "disk"
    env = {**cli_env(workdir, sandbox.base_url), "PIK_RECON_DB": str(disk / "wh.duckdb")}
    done, kept = run_on_disk(["sync"], env, workdir, disk, f"size={size}")
    assert done.returncode == 4, done.stderr
    assert named.format(disk=disk) in done.stderr
    assert "no space left on the device; free some space and run again" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (kept / ".wh.duckdb.sync-batch.jsonl").exists()
    # the batch failed whole: the warehouse opens and holds none of it
    with Warehouse.open(kept / "wh.duckdb", read_only=True) as wh:
        assert wh.fetchone("SELECT count(*) FROM payment_links") == (0,)

    env["PIK_RECON_DB"] = str(kept / "wh.duckdb")  # with room, the next sync completes
    again = run_cli(["sync"], env, workdir)
    assert again.returncode == 0, again.stderr
    with Warehouse.open(kept / "wh.duckdb", read_only=True) as wh:
        assert wh.fetchone("SELECT count(*) FROM payment_links")[0] >= LINKS
        assert wh.fetchone("SELECT verified FROM sync_runs WHERE resource = 'links' "
                           "ORDER BY id DESC LIMIT 1") == (True,)

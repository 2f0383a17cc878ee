"""`pik-recon export parquet`, read back by pyarrow (not the writer, DuckDB): every row and
every amount as in the warehouse; a second export rewrites only the partitions whose rows
changed."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from pik_recon.sandbox.generate import generate_dataset, write_dataset
from pik_recon.sandbox.seed import seed_from_file
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import Faults, SandboxState
from pik_recon.warehouse import Warehouse, migrations
from tests.conftest import (
    ACCOUNT_KEYS,
    accounts_env,
    run_cli,
    warehouse_rows,
    write_accounts_config,
)

# Where each row belongs in the dataset, as the README states it: the account, and the day
# (UTC) or the reconciliation run.
PARTITIONS = {
    "payment_links": "'account=' || account || '/created_date=' || CAST(created_at AS DATE)",
    "orders": "'account=' || account || '/created_date=' || CAST(created_at AS DATE)",
    "findings": "'account=' || account || '/run_id=' || run_id",
    "sync_runs": "'account=' || account",
    "link_status_history": "'account=' || account || '/observed_date=' || "
                           "CAST(observed_at AS DATE)",
}
TABLES = ("payment_links", "link_status_history", "quarantine", "sync_runs", "orders",
          "order_imports", "order_rejects", "link_requests", "reconcile_runs", "findings",
          "finding_acks", "job_runs")


def _read(folder: Path, table: str) -> list[dict]:
    return ds.dataset(folder / table, format="parquet", partitioning="hive").to_table(
    ).to_pylist()


def _contents(db: Path, table: str) -> dict[str, list[str]]:
    """Each partition's rows, whole, as text."""
    return dict(warehouse_rows(db, f"SELECT {PARTITIONS[table]} AS part, "
                                   "list(CAST(t AS VARCHAR) ORDER BY CAST(t AS VARCHAR)) "
                                   f"FROM {table} AS t GROUP BY part"))


def _files(folder: Path, table: str) -> dict[str, tuple[int, int]]:
    """Each partition's data file: its inode and modification time."""
    found = {}
    for path in (folder / table).rglob("*.parquet"):
        stat = path.stat()
        found[str(path.parent.relative_to(folder / table))] = (stat.st_ino, stat.st_mtime_ns)
    return found


@pytest.fixture
def two_accounts(tmp_path: Path) -> dict[str, tuple[Path, SandboxState]]:
    accounts = {}
    for name, seed in (("north", 6), ("south", 7)):
        folder = tmp_path / name
        write_dataset(generate_dataset(1_500, seed), "plain", folder)
        state = SandboxState(api_key=ACCOUNT_KEYS[name], seed=seed,
                             faults=Faults(rate_limit_enabled=False))
        seed_from_file(state, folder / "links.jsonl")
        accounts[name] = (folder, state)
    return accounts


def test_export_reads_back_exactly_and_rewrites_only_what_changed(
        two_accounts: dict[str, tuple[Path, SandboxState]], workdir: Path) -> None:
    servers = {n: SandboxServer(s).__enter__() for n, (_, s) in two_accounts.items()}
    try:
        write_accounts_config(workdir, {n: s.base_url for n, s in servers.items()})
        env = accounts_env(workdir, ACCOUNT_KEYS)
        assert run_cli(["sync"], env, workdir).returncode == 0
        for name, (folder, _) in two_accounts.items():
            assert run_cli(["orders", "load", str(folder / "orders.csv"), "--account", name],
                           env, workdir).returncode == 0
        assert run_cli(["reconcile"], env, workdir).returncode == 0
        out = workdir / "export"
        first = run_cli(["export", "parquet", str(out)], env, workdir)
        assert first.returncode == 0, first.stderr

        db = workdir / "wh.duckdb"
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["schema_version"] == max(v for v, _, _ in migrations())
        for table in TABLES:
            (count,), = warehouse_rows(db, f"SELECT count(*) FROM {table}")
            assert manifest["tables"][table]["rows"] == count, table
            if count:
                assert len(_read(out, table)) == count, table
        links = {(r["account"], r["id"], r["amount"], r["amount_text"])
                 for r in _read(out, "payment_links")}
        assert links == set(warehouse_rows(db, "SELECT account, id, amount, amount_text "
                                               "FROM payment_links"))
        assert all(isinstance(amount, Decimal) for _, _, amount, _ in links)
        orders = {(r["account"], r["order_id"], r["amount"]) for r in _read(out, "orders")}
        assert orders == set(warehouse_rows(db, "SELECT account, order_id, amount FROM orders"))
        findings = {(r["account"], r["run_id"], r["finding_key"], r["order_amount"],
                     r["link_amount"], r["difference"]) for r in _read(out, "findings")}
        assert findings == set(warehouse_rows(
            db, "SELECT account, run_id, finding_key, order_amount, link_amount, difference "
                "FROM findings"))
        assert {r["account"] for r in _read(out, "payment_links")} == {"north", "south"}

        before = {t: _contents(db, t) for t in PARTITIONS}
        files_before = {t: _files(out, t) for t in PARTITIONS}
        north = two_accounts["north"][1]
        with north.lock:
            north.simulate_day(new=40, changes=30)
        for args in (["sync", "--account", "north"], ["reconcile", "--account", "north"],
                     ["export", "parquet", str(out)]):
            done = run_cli(args, env, workdir)
            assert done.returncode == 0, (args, done.stderr)
    finally:
        for server in servers.values():
            server.stop()

    unchanged_somewhere = 0
    for table in PARTITIONS:
        after, files_after = _contents(db, table), _files(out, table)
        assert set(files_after) == set(after), table  # one file per partition, none stale
        changed = {p for p in after if before[table].get(p) != after[p]}
        rewritten = {p for p in files_after if files_before[table].get(p) != files_after[p]}
        assert rewritten == changed, table
        unchanged_somewhere += len(after) - len(changed)
        assert not any(p.startswith("account=south") for p in changed), table
    assert unchanged_somewhere > 100
    assert not list(out.glob(".export-*"))  # the staging folder is gone
    assert len(_read(out, "payment_links")) == warehouse_rows(
        db, "SELECT count(*) FROM payment_links")[0][0]


def test_export_refuses_a_folder_that_is_not_an_export(workdir: Path) -> None:
    folder = workdir / "documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("mine", encoding="utf-8")
    env = accounts_env(workdir, {})
    Warehouse.open(workdir / "wh.duckdb").close()
    done = run_cli(["export", "parquet", str(folder)], env, workdir)
    assert done.returncode == 2
    assert "holds files but no manifest.json" in done.stderr
    assert [p.name for p in folder.iterdir()] == ["thesis.txt"]

"""`pik-recon export parquet`, read back by pyarrow (not the writer, DuckDB): every row and
every amount as in the warehouse; a second export rewrites only the partitions whose rows
changed."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import duckdb
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
    invoke_cli,
    pik_recon_cmd,
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
TABLES = ("payment_links", "link_status_history", "transactions", "transaction_status_history",
          "quarantine", "sync_runs", "orders", "order_imports", "order_rejects", "link_requests",
          "reconcile_runs", "findings", "finding_acks", "webhook_events", "webhook_rejections",
          "job_runs")


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
        with state.lock:  # customers' payments, so the transactions have rows to export
            for link in [link for link in state.links.values() if link.status == "paid"][:5]:
                state.transactions.confirm(state.transactions.open(link.id, link.amount,
                                                                   link.currency))
        accounts[name] = (folder, state)
    return accounts


def test_export_reads_back_exactly_and_rewrites_only_what_changed(
        two_accounts: dict[str, tuple[Path, SandboxState]], workdir: Path) -> None:
    servers = {n: SandboxServer(s).__enter__() for n, (_, s) in two_accounts.items()}
    try:
        write_accounts_config(workdir, {n: s.base_url for n, s in servers.items()})
        env = accounts_env(workdir, ACCOUNT_KEYS)
        assert invoke_cli(["sync"], env, workdir).returncode == 0
        for name, (folder, _) in two_accounts.items():
            assert invoke_cli(["orders", "load", str(folder / "orders.csv"), "--account", name],
                              env, workdir).returncode == 0
        assert invoke_cli(["reconcile"], env, workdir).returncode == 0
        out = workdir / "export"
        first = invoke_cli(["export", "parquet", str(out)], env, workdir)
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
        paid = {(r["account"], r["id"], r["amount"], r["status"])
                for r in _read(out, "transactions")}
        assert paid and paid == set(warehouse_rows(
            db, "SELECT account, id, amount, status FROM transactions"))
        assert all(isinstance(amount, Decimal) for _, _, amount, _ in paid)
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
            done = invoke_cli(args, env, workdir)
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
    done = invoke_cli(["export", "parquet", str(folder)], env, workdir)
    assert done.returncode == 2
    assert "holds files but no manifest.json" in done.stderr
    assert [p.name for p in folder.iterdir()] == ["thesis.txt"]


LINKS = 300_000


@pytest.fixture
def big_warehouse(workdir: Path) -> Path:
    """A warehouse of 300,000 links over a year, written directly: an export takes long
    enough to be killed in the middle of it."""
    db = workdir / "wh.duckdb"
    with Warehouse.open(db) as wh:
        wh.execute(f"""
            INSERT INTO payment_links BY NAME
            SELECT 'default' AS account, 'pl_' || i AS id, 'https://pay.pik.global/l/pl_' || i
                       AS url, CAST(a AS DECIMAL(38, 18)) AS amount, a AS amount_text,
                   'USDT' AS currency, 'Order #' || i AS description, 'paid' AS status,
                   TIMESTAMPTZ '2026-11-30 12:00:00+00' - to_seconds(i * 105) AS created_at,
                   now() AS first_seen_at, now() AS last_seen_at, 1 AS last_seen_run
            FROM (SELECT i, CAST(i % 9973 AS VARCHAR) || '.' || lpad(CAST(i AS VARCHAR), 6, '0')
                             AS a FROM range({LINKS}) AS r(i))""")
    return db


def test_an_export_killed_at_any_moment_is_completed_by_the_next(
        big_warehouse: Path, workdir: Path) -> None:
    env = accounts_env(workdir, {})
    out = workdir / "export"
    started = subprocess.Popen([*pik_recon_cmd(), "export", "parquet", str(out)], env=env,
                               cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list((out / "payment_links").glob("*/*")) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert started.poll() is None, "the export ended before it could be killed"
    started.send_signal(signal.SIGKILL)
    started.wait(timeout=30)
    assert (out / "manifest.json").is_file()  # a folder the next export recognises
    assert list(out.glob(".export-*"))  # the killed export's staging folder is still there

    done = invoke_cli(["export", "parquet", str(out)], env, workdir)

    assert done.returncode == 0, done.stderr
    assert not list(out.glob(".export-*"))
    amounts = {r["id"]: r["amount"] for r in _read(out, "payment_links")}
    assert amounts == dict(warehouse_rows(big_warehouse, "SELECT id, amount FROM payment_links"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tables"]["payment_links"]["rows"] == LINKS


def test_a_second_export_into_the_same_folder_at_once_exits_4(
        big_warehouse: Path, workdir: Path) -> None:
    out = workdir / "export"
    out.mkdir()
    handle = os.open(out / ".export.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)  # as an export under way holds it
        done = run_cli(["export", "parquet", str(out)], accounts_env(workdir, {}), workdir)
    finally:
        os.close(handle)
    assert done.returncode == 4
    assert f"another pik-recon export is writing {out}" in done.stderr
    assert [p.name for p in out.iterdir()] == [".export.lock"]  # nothing written


OTHER_MANIFESTS = ["{}", '{"format": "other-tool export", "manifest_version": 1, "tables": {}}',
                   '{"manifest_version": 1, "tables": {}}', "not json at all",
                   '["a", "list"]']


@pytest.mark.parametrize("text", OTHER_MANIFESTS,
                         ids=["empty", "other format", "no format", "not json", "a list"])
def test_export_refuses_a_folder_holding_another_manifest(workdir: Path, text: str) -> None:
    folder = workdir / "theirs"
    folder.mkdir()
    (folder / "manifest.json").write_text(text, encoding="utf-8")
    Warehouse.open(workdir / "wh.duckdb").close()
    done = invoke_cli(["export", "parquet", str(folder)], accounts_env(workdir, {}), workdir)
    assert done.returncode == 2, done.stderr
    assert (f"{folder / 'manifest.json'} is not the manifest of a pik-recon export (its "
            '"format" is not "pik-recon parquet export")') in done.stderr
    assert [p.name for p in folder.iterdir()] == ["manifest.json"]
    assert (folder / "manifest.json").read_text(encoding="utf-8") == text


# each table's partition columns, as the README states the layout: in the paths of a table
# with rows, in the one file of a table without
PARTITION_COLUMNS = {"quarantine": ["account", "observed_date"], "finding_acks": ["account"],
                     "job_runs": [], "payment_links": ["account", "created_date"],
                     "transactions": ["account", "created_date"],
                     "transaction_status_history": ["account", "observed_date"]}


def _columns(db: Path, table: str) -> list[str]:
    return [r[0] for r in warehouse_rows(db, "SELECT column_name FROM information_schema."
                                             f"columns WHERE table_name = '{table}' ORDER BY "
                                             "ordinal_position")]


def test_a_table_with_no_rows_gets_its_folder_and_a_file_with_its_schema(
        workdir: Path) -> None:
    db = workdir / "wh.duckdb"
    Warehouse.open(db).close()
    out = workdir / "export"
    env = accounts_env(workdir, {})
    done = invoke_cli(["export", "parquet", str(out)], env, workdir)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(TABLES)
    for table, partitions in PARTITION_COLUMNS.items():
        assert [p.name for p in (out / table).iterdir()] == ["data_0.parquet"], table
        columns = [*(c for c in _columns(db, table) if c not in partitions), *partitions]
        with duckdb.connect() as con:
            read = con.execute(f"SELECT * FROM read_parquet('{out}/{table}/**/*.parquet', "
                               "hive_partitioning = true)")
            assert read.fetchall() == [], table
            assert sorted(d[0] for d in read.description) == sorted(columns), table
        dataset = ds.dataset(out / table, format="parquet", partitioning="hive")
        assert sorted(dataset.schema.names) == sorted(columns), table
        assert dataset.count_rows() == 0

    with Warehouse.open(db) as wh:  # a row arrives: the schema file gives way to its partition
        wh.execute("INSERT INTO quarantine (sync_run_id, observed_at, reason, record, account) "
                   "VALUES (1, TIMESTAMPTZ '2026-11-30 08:00:00+00', 'no id', '{}', 'default')")
    again = invoke_cli(["export", "parquet", str(out)], env, workdir)
    assert again.returncode == 0, again.stderr
    assert [str(p.relative_to(out / "quarantine")) for p in (out / "quarantine").rglob(
        "*.parquet")] == ["account=default/observed_date=2026-11-30/data_0.parquet"]
    rows = ds.dataset(out / "quarantine", format="parquet", partitioning="hive").to_table(
    ).to_pylist()
    assert [(r["reason"], r["account"]) for r in rows] == [("no id", "default")]

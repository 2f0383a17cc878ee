"""Someone else's DuckDB file given as --db is refused by every command (exit 2, one
sentence), never migrated: not a table is added, not a row changed. In-process: the console
script's own exit path is `test_operator_mistakes.py`'s."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import cli_env, invoke_cli

COMMANDS = [
    ["sync"],
    ["status"],
    ["report", "--since", "7d", "--out", "{tmp}/r"],
    ["reconcile"],
    ["orders", "load", "{tmp}/orders.csv"],
    ["findings", "list"],
    ["findings", "ack", "3f9c2a1b7d04", "--note", "refunded"],
    ["export", "parquet", "{tmp}/export"],
    ["links", "create", "{tmp}/invoices.csv"],
    ["run", "nightly"],
]
# another program's files: its own tables, and one with a schema_migrations of its own
# (Rails keeps one, with a text version)
THEIRS = {
    "crm": ["CREATE TABLE customers (id INTEGER, email VARCHAR)",
            "INSERT INTO customers VALUES (1, 'ana@example.com'), (2, 'bo@example.com')"],
    "rails": ["CREATE TABLE schema_migrations (version VARCHAR PRIMARY KEY)",
              "INSERT INTO schema_migrations VALUES ('20240101120000')",
              "CREATE TABLE customers (id INTEGER, email VARCHAR)",
              "INSERT INTO customers VALUES (1, 'ana@example.com')"],
}


def _contents(db: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() "
                                            "ORDER BY 1").fetchall()]
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables}


def _setup(tmp: Path, kind: str) -> Path:
    db = tmp / "theirs.duckdb"
    with duckdb.connect(str(db)) as con:
        for statement in THEIRS[kind]:
            con.execute(statement)
    (tmp / "orders.csv").write_text("order_id,amount,currency,status,created_at\n"
                                    "A1,10.00,USDT,paid,2026-11-01T10:00:00Z\n")
    (tmp / "invoices.csv").write_text("order_id,amount,currency\nA1,10.00,USDT\n")
    (tmp / "jobs").mkdir()
    (tmp / "jobs" / "nightly.toml").write_text(
        '[schedule]\ncron = "30 2 * * *"\n[[steps]]\ntype = "sync"\n')
    return db


@pytest.mark.parametrize("kind", sorted(THEIRS))
@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_another_programs_duckdb_file_is_refused_and_left_as_it_was(
        workdir: Path, args: list[str], kind: str) -> None:
    db = _setup(workdir, kind)
    before = _contents(db)
    env = {**cli_env(workdir, "http://127.0.0.1:9/v1"), "PIK_RECON_DB": str(db)}
    done = invoke_cli([a.format(tmp=workdir) for a in args], env, workdir)
    assert done.returncode == 2, done.stderr
    assert f"Error: warehouse {db} is a DuckDB file of another program: it holds tables " in (
        done.stderr)
    assert "pik-recon leaves it as it is" in done.stderr
    assert "Traceback" not in done.stderr
    assert _contents(db) == before
    assert not (workdir / "r").exists()
    assert not (workdir / "export").exists()


def test_status_of_an_empty_duckdb_file_says_no_sync_has_filled_it(workdir: Path) -> None:
    db = workdir / "new.duckdb"
    duckdb.connect(str(db)).close()
    env = {**cli_env(workdir, "http://127.0.0.1:9/v1"), "PIK_RECON_DB": str(db)}
    done = invoke_cli(["status"], env, workdir)
    assert done.returncode == 2, done.stderr
    assert f"Error: warehouse {db} holds no pik-recon data yet; run `pik-recon sync` first" in (
        done.stderr)
    assert _contents(db) == {}

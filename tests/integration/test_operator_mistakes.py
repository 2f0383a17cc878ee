"""Every mistake an operator makes is exit 2 and one sentence; no traceback without -v. The
mistakes run in-process through the entry point; the real console script shows the sentence
and, with -v, the traceback (`test_verbose_adds_the_traceback`)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pik_recon.warehouse import Warehouse
from tests.conftest import CliRun, cli_env, invoke_cli, record_sync, run_cli, warehouse_rows


def _setup(tmp: Path) -> None:
    with Warehouse.open(tmp / "wh.duckdb") as warehouse:
        record_sync(warehouse)  # a report needs a finished sync before it looks at --out
    (tmp / "a-file").write_text("not a folder\n")
    (tmp / "notes.txt").write_text("a text file, not a warehouse\n")
    (tmp / "a-folder").mkdir()
    (tmp / "invoices.csv").write_text("order_id,amount,currency\nA1,10.00,USDT\n")
    (tmp / "orders.csv").write_text("order_id,amount,currency,status,created_at\n"
                                    "A1,10.00,USDT,paid,2026-11-01T10:00:00Z\n")


# (what was run, the words the one sentence must hold)
MISTAKES = [
    (["--db", "{tmp}/missing.duckdb", "status"],
     ["warehouse {tmp}/missing.duckdb does not exist yet", "run `pik-recon sync` first"]),
    (["--db", "{tmp}/missing.duckdb", "report", "--since", "7d"],
     ["warehouse {tmp}/missing.duckdb does not exist yet"]),
    (["--db", "{tmp}/no/such/folder/wh.duckdb", "sync"],
     ["the folder {tmp}/no/such/folder does not exist", "create it"]),
    (["--db", "{tmp}/no/such/folder/wh.duckdb", "orders", "load", "{tmp}/orders.csv"],
     ["the folder {tmp}/no/such/folder does not exist"]),
    (["--db", "{tmp}/a-folder", "sync"], ["warehouse {tmp}/a-folder is a folder",
                                          "names a file"]),
    (["--db", "{tmp}/a-folder", "status"], ["warehouse {tmp}/a-folder is a folder"]),
    (["--db", "{tmp}/notes.txt", "orders", "load", "{tmp}/orders.csv"],
     ["{tmp}/notes.txt is a file of another kind, not a DuckDB warehouse"]),
    (["--db", "{tmp}/notes.txt", "status"], ["not a DuckDB warehouse"]),
    (["--db", "{tmp}/wh.duckdb", "report", "--since", "7d", "--out", "{tmp}/a-file/sub"],
     ["--out: cannot create the folder {tmp}/a-file/sub: {tmp}/a-file is a file"]),
    (["--db", "{tmp}/wh.duckdb", "links", "create", "{tmp}/invoices.csv", "--out",
      "{tmp}/a-file/links.csv"], ["--out: cannot write {tmp}/a-file/links.csv",
                                  "{tmp}/a-file is a file"]),
    (["--db", "{tmp}/wh.duckdb", "links", "create", "{tmp}/invoices.csv", "--out",
      "{tmp}/a-folder"], ["Invalid value for '--out'", "{tmp}/a-folder' is a directory"]),
    (["--db", "{tmp}/wh.duckdb", "report", "--since", "7 days"],
     ["'7 days' is not a time", "accepted forms"]),
    (["--db", "{tmp}/wh.duckdb", "orders", "load", "{tmp}/nope.csv"],
     ["{tmp}/nope.csv: no such file"]),
    (["--config", "{tmp}/nope.toml", "status"], ["--config {tmp}/nope.toml: no such file"]),
    (["run", "weekly"], ["no job 'weekly'"]),
]


def _env(tmp: Path) -> dict[str, str]:
    env = cli_env(tmp, "http://127.0.0.1:9/v1")
    env.pop("PIK_RECON_DB")
    env.pop("PIK_RECON_CONFIG")
    return env


def _run(args: list[str], tmp: Path) -> CliRun:
    return invoke_cli([a.format(tmp=tmp) for a in args], _env(tmp), tmp)


@pytest.mark.parametrize(("args", "words"), MISTAKES, ids=[" ".join(m[0]) for m in MISTAKES])
def test_a_mistake_is_exit_2_and_one_sentence(tmp_path: Path, args: list[str],
                                              words: list[str]) -> None:
    _setup(tmp_path)
    done = _run(args, tmp_path)
    assert done.returncode == 2, done.stderr
    for word in words:
        assert word.format(tmp=tmp_path) in done.stderr
    assert "Traceback" not in done.stderr
    assert len([line for line in done.stderr.splitlines() if line.startswith("Error:")]) == 1


def test_verbose_adds_the_traceback(tmp_path: Path) -> None:
    _setup(tmp_path)
    args = ["--db", str(tmp_path / "a-folder"), "status"]
    quiet = run_cli(args, _env(tmp_path), tmp_path, timeout=60)
    done = run_cli(["-v", *args], _env(tmp_path), tmp_path, timeout=60)
    assert quiet.returncode == 2
    assert quiet.stderr.startswith("Error: warehouse ") and "Traceback" not in quiet.stderr
    assert done.returncode == 2
    assert "Traceback" in done.stderr and "is a folder" in done.stderr


def test_a_sandbox_port_in_use_is_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "pik_recon", "sandbox", "serve", "--port",
                               str(port)], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path)
    assert done.returncode == 2
    assert f"--port {port}: 127.0.0.1:{port} is in use by another program" in done.stderr
    assert "Traceback" not in done.stderr


def test_nothing_is_sent_when_the_output_cannot_be_written(tmp_path: Path) -> None:
    """The output path is checked before the first request: the unreachable base URL would
    otherwise make it exit 4."""
    _setup(tmp_path)
    done = _run(["--db", "{tmp}/wh.duckdb", "links", "create", "{tmp}/invoices.csv", "--out",
                 "{tmp}/a-file/links.csv"], tmp_path)
    assert done.returncode == 2
    assert warehouse_rows(tmp_path / "wh.duckdb", "SELECT count(*) FROM link_requests") == [
        (0,)]


@pytest.mark.parametrize("args", [["reconcile"], ["findings", "ack", "3f9c2a1b7d04", "--note",
                                                   "refunded"],
                                  ["findings", "reopen", "3f9c2a1b7d04"]],
                         ids=["reconcile", "findings ack", "findings reopen"])
def test_a_command_that_needs_the_warehouse_refuses_a_missing_one_and_creates_none(
        tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "missing.duckdb"
    done = _run(["--db", str(missing), *args], tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"warehouse {missing} does not exist yet; run `pik-recon sync` first" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_report_on_a_warehouse_no_sync_has_filled_says_the_data_is_missing(
        tmp_path: Path) -> None:
    db = tmp_path / "wh.duckdb"
    Warehouse.open(db).close()
    done = _run(["--db", str(db), "report", "--since", "7d", "--out", "{tmp}/r"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert (f"warehouse {db}: no sync has completed; run `pik-recon sync` first (the report "
            "would show none of PIK's links)") in done.stderr
    assert not (tmp_path / "r").exists()


def test_a_report_for_an_account_no_sync_has_filled_names_it(tmp_path: Path) -> None:
    (tmp_path / "pik-recon.toml").write_text('[accounts.north]\nkey_env = "PIK_KEY_NORTH"\n'
                                             '[accounts.south]\nkey_env = "PIK_KEY_SOUTH"\n')
    db = tmp_path / "wh.duckdb"
    with Warehouse.open(db) as warehouse:
        record_sync(warehouse, "north")
    done = _run(["--db", str(db), "report", "--since", "7d", "--out", "{tmp}/r"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert "no sync has completed for account south; run `pik-recon sync --account south`" in (
        done.stderr)
    assert not (tmp_path / "r").exists()


DATASET = ("links.jsonl", "transactions.jsonl", "webhook_events.jsonl", "orders.csv",
           "expected_findings.csv", "expected_stakes.csv", "pik-recon.toml",
           "expected_figures.json", "dataset.json")


def test_sandbox_generate_overwrites_nothing_without_force(tmp_path: Path) -> None:
    (tmp_path / "pik-recon.toml").write_text("[report]\ntimezone = \"Europe/Berlin\"\n")
    args = ["sandbox", "generate", "--orders", "50", "--out", str(tmp_path)]
    done = _run(args, tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"--out {tmp_path} holds pik-recon.toml already; nothing was written" in done.stderr
    assert "--force" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["pik-recon.toml"]
    assert (tmp_path / "pik-recon.toml").read_text() == "[report]\ntimezone = \"Europe/Berlin\"\n"

    forced = _run([*args, "--force"], tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(DATASET)

"""Several PIK accounts in one warehouse: synced side by side, each proven, kept apart.

The two sandboxes are seeded alike, so both accounts hold links with the same ids: a query
that forgets its account mixes them up, and these tests see it.
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pik_recon.sandbox.generate import generate_dataset, write_dataset
from pik_recon.sandbox.seed import seed_from_file
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import Faults, SandboxState, generate_links
from tests.conftest import (
    ACCOUNT_KEYS,
    DRIFT,
    accounts_env,
    invoke_cli,
    json_results,
    statuses,
    warehouse_rows,
    write_accounts_config,
)
from tests.integration.test_stakes import planted_findings, unseen

SIZES = {"north": 3_000, "south": 2_000}
FINAL = ("paid", "expired", "deactivated")


@pytest.fixture
def moving_accounts() -> Iterator[dict[str, tuple[SandboxState, SandboxServer]]]:
    """Two sandboxes, one per account, each with its own key, drifting all the time."""
    running = {}
    for name, size in SIZES.items():
        state = SandboxState(api_key=ACCOUNT_KEYS[name], seed=11,
                             faults=Faults(rate_limit_enabled=False, retry_after_seconds=0,
                                           drift_per_request=DRIFT))
        generate_links(state, size)
        running[name] = (state, SandboxServer(state).__enter__())
    yield running
    for _, server in running.values():
        server.stop()


def _held(db: Path, account: str) -> dict[str, str]:
    return dict(warehouse_rows(db, f"SELECT id, status FROM payment_links "
                                   f"WHERE account = '{account}'"))


def test_one_sync_fills_both_accounts_each_proven(
        moving_accounts: dict[str, tuple[SandboxState, SandboxServer]], workdir: Path) -> None:
    write_accounts_config(workdir, {n: s.base_url for n, (_, s) in moving_accounts.items()})
    shared = set(statuses(moving_accounts["north"][0])) & set(
        statuses(moving_accounts["south"][0]))
    assert len(shared) > 1_000  # the accounts' links share ids: mixing them would show

    done = invoke_cli(["--log-format", "json", "sync"], accounts_env(workdir, ACCOUNT_KEYS),
                      workdir)

    assert done.returncode == 0, done.stderr[-2000:]
    results = {r["account"]: r for r in json_results(done.stdout, "sync")
               if r["resource"] == "links"}
    assert set(results) == {"north", "south"}
    db = workdir / "wh.duckdb"
    for name, (state, _) in moving_accounts.items():
        result, now, held = results[name], statuses(state), _held(db, name)
        assert result["verified"], result["verdict"]
        assert result["pik_total"] == result["accounted"]
        assert set(held) == set(now)  # every link of this account, none of the other's
        assert all(now[i] == s for i, s in held.items() if s in FINAL)
        assert state.log.refused_keys == 0  # every request carried this account's key
    runs = warehouse_rows(db, "SELECT account, resource, state, verified FROM sync_runs "
                              "ORDER BY account, id")
    assert runs == [(name, resource, "finished", True) for name in ("north", "south")
                    for resource in ("links", "transactions")]
    logs = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert {entry.get("account") for entry in logs if "PIK counts" in entry["message"]} == {
        "north", "south"}


@pytest.mark.parametrize(("trouble", "code", "says"), [
    ("down", 4, "cannot connect"), ("wrong key", 3, "PIK refused the API key")])
def test_one_failing_account_leaves_the_other_synced(
        moving_accounts: dict[str, tuple[SandboxState, SandboxServer]], workdir: Path,
        refused_url: str, trouble: str, code: int, says: str) -> None:
    urls = {n: s.base_url for n, (_, s) in moving_accounts.items()}
    keys = dict(ACCOUNT_KEYS)
    if trouble == "down":
        urls["south"] = refused_url
    else:
        keys["south"] = ACCOUNT_KEYS["north"]  # a key of another account
    write_accounts_config(workdir, urls)

    done = invoke_cli(["sync"], accounts_env(workdir, keys), workdir)

    assert done.returncode == code, done.stderr[-2000:]
    assert "1 of 2 accounts failed: account south:" in done.stderr
    assert says in done.stderr and f"(exit {code})" in done.stderr
    assert "accounts verified: north; failed: south" in done.stdout
    north = moving_accounts["north"][0]
    assert set(_held(workdir / "wh.duckdb", "north")) == set(statuses(north))
    assert _held(workdir / "wh.duckdb", "south") == {}
    if trouble == "wrong key":
        assert "Check PIK_KEY_SOUTH" in done.stderr  # the variable to fix, not the key
    assert ACCOUNT_KEYS["north"] not in done.stdout + done.stderr


@pytest.fixture
def planted(tmp_path: Path) -> dict[str, Path]:
    """Generated orders and links with every finding planted, per account. south also holds
    unpaid copies of some of north's links (the same ids and descriptions): in south they
    match no order, so they are orphans there, and north's findings do not change."""
    folders = {}
    for name, seed in (("north", 4), ("south", 5)):
        folders[name] = tmp_path / name
        write_dataset(generate_dataset(2_000, seed), "plain", folders[name])
    copies = [json.loads(line) for line in (folders["north"] / "links.jsonl").open()
              if json.loads(line)["status"] in ("active", "expired")][:40]
    with (folders["south"] / "links.jsonl").open("a", encoding="utf-8") as fh:
        fh.writelines(json.dumps(link) + "\n" for link in copies)
    with (folders["south"] / "expected_findings.csv").open("a", encoding="utf-8",
                                                           newline="") as fh:
        csv.writer(fh).writerows(("orphan_link", "", link["id"], "") for link in copies)
    return folders


def _expected(folder: Path, db: Path) -> set[tuple[str, ...]]:
    """The planted findings the warehouse can show (unseen: those of money received
    without its transactions, webhook ones without capture)."""
    return planted_findings(folder, leave_out=unseen(db))


ORDER_FIGURES = ("invoiced", "collected", "outstanding", "expired_lost")


def _figures(report: dict, account: str | None) -> dict[tuple[str, str], tuple[int, Decimal]]:
    rows = report["totals"] if account is None else [
        r for r in report["summary"] if r["account"] == account]
    return {(r["currency"], name): (r[name]["count"], Decimal(r[name]["amount"]))
            for r in rows for name in ORDER_FIGURES if r[name]["count"]}


def _planted_figures(folders: list[Path]) -> dict[tuple[str, str], tuple[int, Decimal]]:
    """The planted figures of the accounts, added up per currency and figure."""
    total: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for folder in folders:
        planted = json.loads((folder / "expected_figures.json").read_text())
        for currency, figures in planted["currencies"].items():
            for name, value in figures.items():
                if name not in ORDER_FIGURES:
                    continue
                count, amount = total.get((currency, name), (0, Decimal(0)))
                total[(currency, name)] = (count + value["count"],
                                           amount + Decimal(value["amount"]))
    return {k: v for k, v in total.items() if v[0]}


def test_reconcile_and_report_per_account_and_combined(planted: dict[str, Path],
                                                       workdir: Path) -> None:
    servers = {}
    for name, folder in planted.items():
        state = SandboxState(api_key=ACCOUNT_KEYS[name], faults=Faults(rate_limit_enabled=False))
        seed_from_file(state, folder / "links.jsonl")
        servers[name] = SandboxServer(state).__enter__()
    try:
        write_accounts_config(workdir, {n: s.base_url for n, s in servers.items()})
        env = accounts_env(workdir, ACCOUNT_KEYS)
        assert invoke_cli(["sync"], env, workdir).returncode == 0
    finally:
        for server in servers.values():
            server.stop()
    bare = invoke_cli(["orders", "load", str(planted["north"] / "orders.csv")], env, workdir)
    assert bare.returncode == 2
    assert "name it with --account (configured: north, south)" in bare.stderr
    for name, folder in planted.items():
        loaded = invoke_cli(["orders", "load", str(folder / "orders.csv"), "--account", name],
                            env, workdir)
        assert loaded.returncode == 0, loaded.stderr
    as_of = json.loads((planted["north"] / "dataset.json").read_text())["as_of"]
    done = invoke_cli(["--log-format", "json", "reconcile", "--as-of", as_of], env, workdir)
    assert done.returncode == 0, done.stderr
    runs = {r["account"]: r["run_id"] for r in json_results(done.stdout, "reconcile")}

    db = workdir / "wh.duckdb"
    for name, folder in planted.items():
        found = {(c, o or "", ids or "") for c, o, ids in warehouse_rows(
            db, f"SELECT category, order_id, link_ids FROM findings WHERE run_id = {runs[name]}"
                f" AND account = '{name}'")}
        assert found == _expected(folder, db), name
    assert warehouse_rows(db, "SELECT DISTINCT account FROM findings WHERE run_id = "
                              f"{runs['north']}") == [("north",)]

    figures = json.loads((planted["north"] / "expected_figures.json").read_text())
    period = ["--since", figures["since"], "--until", figures["until"]]
    combined, alone = workdir / "combined", workdir / "north-only"
    assert invoke_cli(["report", *period, "--out", str(combined), "--format", "json,csv"], env,
                      workdir).returncode == 0
    assert invoke_cli(["report", *period, "--out", str(alone), "--format", "json,csv",
                       "--account", "north"], env, workdir).returncode == 0
    both = json.loads((combined / "report.json").read_text())
    north = json.loads((alone / "report.json").read_text())

    assert [a["account"] for a in both["accounts"]] == ["north", "south"]
    for name, folder in planted.items():
        assert _figures(both, name) == _planted_figures([folder]), name
    assert _figures(both, None) == _planted_figures(list(planted.values()))
    for name, folder in planted.items():  # unpaid orders by age, per account
        aging = json.loads((folder / "expected_figures.json").read_text())["aging"]
        assert [(a["currency"], a["bucket"], a["count"], Decimal(a["amount"]))
                for a in both["aging"] if a["account"] == name] == [
            (a["currency"], a["bucket"], a["count"], Decimal(a["amount"])) for a in aging], name
    assert {r["account"] for r in north["summary"]} == {"north"}
    assert _figures(north, None) == _planted_figures([planted["north"]])
    with (combined / "findings.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    in_period = {name: sum(1 for r in rows if r["account"] == name) for name in planted}
    assert in_period["north"] > 100 and in_period["south"] > 100
    assert both["findings"]["total"] == len(rows) == north["findings"]["total"] + sum(
        1 for r in rows if r["account"] == "south")
    since = datetime.fromisoformat(figures["since"])
    assert all(datetime.fromisoformat(r["order_created_at"]) >= since
               for r in rows if r["order_created_at"])


JOB = """[schedule]
cron = "30 2 * * *"
timezone = "UTC"

[[steps]]
type = "sync"

[[steps]]
type = "reconcile"
orders = "{orders}"

[[steps]]
type = "report"
since = "3650d"
out = "{out}"
"""


def test_a_job_goes_on_for_the_accounts_that_did_not_fail(
        moving_accounts: dict[str, tuple[SandboxState, SandboxServer]], workdir: Path) -> None:
    write_accounts_config(workdir, {n: s.base_url for n, (_, s) in moving_accounts.items()})
    (workdir / "jobs").mkdir()
    for name in SIZES:
        (workdir / f"orders-{name}.csv").write_text(
            "order_id,amount,currency,status,created_at\n"
            f"{name}-1,10.00,USDT,awaiting_payment,2026-11-01T00:00:00Z\n", encoding="utf-8")
    one_file = JOB.format(orders=workdir / "orders-north.csv", out=workdir / "r")
    (workdir / "jobs" / "nightly.toml").write_text(one_file, encoding="utf-8")
    env = accounts_env(workdir, ACCOUNT_KEYS)

    refused = invoke_cli(["run", "nightly", "--check"], env, workdir)
    assert refused.returncode == 2
    assert "would load one shop's orders into 2 accounts (north, south)" in refused.stderr

    per_account = JOB.format(orders=workdir / "orders-{account}.csv",
                             out=workdir / "reports" / "{account}")
    (workdir / "jobs" / "nightly.toml").write_text(per_account, encoding="utf-8")
    moving_accounts["south"][1].stop()
    done = invoke_cli(["run", "nightly"], env, workdir)

    assert done.returncode == 4, done.stderr[-2000:]
    assert "- sync: partly failed" in done.stdout and "account south:" in done.stdout
    assert "- reconcile: ok" in done.stdout and "- report: ok" in done.stdout
    assert (workdir / "reports" / "north" / "report.html").is_file()
    assert not (workdir / "reports" / "south").exists()
    db = workdir / "wh.duckdb"
    assert warehouse_rows(db, "SELECT account, count(*) FROM orders GROUP BY 1") == [
        ("north", 1)]
    assert warehouse_rows(db, "SELECT outcome, exit_code, accounts FROM job_runs") == [
        ("failed", 4, ["north", "south"])]


def test_no_account_key_appears_anywhere(
        moving_accounts: dict[str, tuple[SandboxState, SandboxServer]], workdir: Path) -> None:
    for state, _ in moving_accounts.values():
        with state.lock:
            state.faults.rate = 0.3
    write_accounts_config(workdir, {n: s.base_url for n, (_, s) in moving_accounts.items()})
    env = accounts_env(workdir, ACCOUNT_KEYS)
    outputs = []
    for args in (["-v", "sync"], ["-v", "--log-format", "json", "sync", "--full"],
                 ["-v", "reconcile"], ["-v", "report", "--since", "3650d", "--out",
                                       str(workdir / "reports")],
                 ["-v", "export", "parquet", str(workdir / "export")], ["status"],
                 ["findings", "list"]):
        done = invoke_cli(args, env, workdir)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        outputs += [done.stdout, done.stderr]
    wrong = {**ACCOUNT_KEYS, "south": ACCOUNT_KEYS["south"] + "x"}
    refused = invoke_cli(["-v", "--log-format", "json", "sync"], accounts_env(workdir, wrong),
                         workdir)
    assert refused.returncode == 3
    outputs += [refused.stdout, refused.stderr]
    assert any('"level": "debug"' in text for text in outputs)  # the verbose logs were there

    files = [p for p in workdir.rglob("*") if p.is_file() and p.name != "pik-recon.toml"]
    assert {p.suffix for p in files} >= {".duckdb", ".parquet", ".csv", ".xlsx", ".html",
                                         ".json"}
    contents = [_text_of(p) for p in files]
    for key in ACCOUNT_KEYS.values():
        assert not [text for text in outputs if key in text]
        assert not [p for p, text in zip(files, contents, strict=True) if key in text]


def _text_of(path: Path) -> str:
    """What a file holds, readable: the workbook's XML, the Parquet rows, the warehouse's
    rows, else its bytes as text."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as book:
            return " ".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())
    if path.suffix == ".parquet":
        return repr(pq.read_table(path).to_pylist())
    if path.suffix == ".duckdb":
        con = duckdb.connect(str(path), read_only=True)
        try:
            tables = [row[0] for row in con.execute("SHOW TABLES").fetchall()]
            return repr([con.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables]) + (
                path.read_bytes().decode("latin-1"))
        finally:
            con.close()
    return path.read_bytes().decode("utf-8", "replace")

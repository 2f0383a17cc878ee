"""Rejected rows of an orders export: too many and nothing is stored (exit 2, as a command and
as a job step); a few and the file loads, each rejected row an order_rejected finding of the
next reconciliation, its reports, --fail-on and acknowledgements. And the export a job picks
as newest is the current data, even when its bytes equal an earlier import."""

from __future__ import annotations

import csv
import json
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from pik_recon.warehouse import Warehouse
from tests.conftest import invoke_cli, record_sync, warehouse_rows

HEADER = "order_id,amount,currency,status,created_at\n"


def _workdir(tmp_path: Path, config: str = "") -> dict[str, str]:
    """A warehouse whose sync finished with no links (so cancelled orders have no finding),
    and the environment of a CLI run against it."""
    with Warehouse.open(tmp_path / "wh.duckdb") as wh:
        record_sync(wh)
    (tmp_path / "pik-recon.toml").write_text(
        config + f'\n[jobs]\ndir = "{tmp_path / "jobs"}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIK_")}
    env.update(PIK_RECON_DB=str(tmp_path / "wh.duckdb"),
               PIK_RECON_CONFIG=str(tmp_path / "pik-recon.toml"))
    return env


def _export(path: Path, rows: int, bad: dict[int, str], first: int = 0,
            age_seconds: float = 0) -> Path:
    """`rows` cancelled orders O<first>.. (O<n> on line n + 2 when first is 0); `bad`: row
    number -> the cell its amount has."""
    path.write_text(HEADER + "".join(
        f"O{n},{bad.get(n, f'{n}.50')},USDT,cancelled,2026-11-10T10:00:00Z\n"
        for n in range(first, first + rows)), encoding="utf-8")
    moment = time.time() - age_seconds
    os.utime(path, (moment, moment))
    return path


def _snapshot(db: Path) -> dict[str, Any]:
    tables = [t for (t,) in warehouse_rows(db, "SELECT table_name FROM information_schema."
                                               "tables WHERE table_schema = 'main'")]
    assert "orders" in tables and "order_rejects" in tables and "order_imports" in tables
    found: dict[str, Any] = {t: sorted(map(repr, warehouse_rows(db, f"SELECT * FROM {t}")))
                             for t in tables}
    found["sequences"] = warehouse_rows(db, "SELECT sequence_name, last_value FROM "
                                            "duckdb_sequences() ORDER BY 1")
    return found


THREE_IN_100 = {10: "12.5O", 20: "", 30: "12.5O"}  # lines 12, 22, 32


def test_more_rejects_than_max_rejected_share_store_nothing_and_exit_2(tmp_path: Path) -> None:
    env = _workdir(tmp_path)
    first = invoke_cli(["orders", "load", str(_export(tmp_path / "good.csv", 10, {}, 500))],
                       env, tmp_path)
    assert first.returncode == 0, first.stderr
    before = _snapshot(tmp_path / "wh.duckdb")
    export = _export(tmp_path / "orders.csv", 100, THREE_IN_100)

    load = invoke_cli(["orders", "load", str(export)], env, tmp_path)
    after_load = _snapshot(tmp_path / "wh.duckdb")
    reconcile = invoke_cli(["reconcile", "--orders", str(export)], env, tmp_path)
    after_reconcile = _snapshot(tmp_path / "wh.duckdb")

    assert load.returncode == reconcile.returncode == 2
    assert (f"Error: {export}: 3 of its 100 rows (3.0%) could not be read, more than "
            "max_rejected_share = 0.02 allows; nothing was loaded. The most common reason (2 "
            "of them, column 'amount'): the amount is not a number like 1,234.50. Check the "
            "[orders] mapping in pik-recon.toml, or, if these rows are really unreadable, "
            "raise max_rejected_share under [orders]") in load.stderr
    assert f"{export} line 22, column 'amount': the amount is empty" in load.stderr
    assert "could not be read, more than max_rejected_share" in reconcile.stderr
    assert after_load == before
    assert after_reconcile["orders"] == before["orders"]
    assert after_reconcile["order_imports"] == before["order_imports"]
    assert after_reconcile["order_rejects"] == before["order_rejects"] == []


def test_the_share_is_a_setting_and_a_bad_one_is_named(tmp_path: Path) -> None:
    env = _workdir(tmp_path, "[orders]\nmax_rejected_share = 0.05\n")
    export = _export(tmp_path / "orders.csv", 100, THREE_IN_100)
    loaded = invoke_cli(["orders", "load", str(export)], env, tmp_path)
    (tmp_path / "pik-recon.toml").write_text("[orders]\nmax_rejected_share = 1\n")
    bad = invoke_cli(["orders", "load", str(export)], env, tmp_path)

    assert loaded.returncode == 0, loaded.stderr
    assert "100 rows read, 97 orders loaded, 0 left out by the filter, 3 rejected." in (
        loaded.stdout)
    assert bad.returncode == 2
    assert ("config [orders] max_rejected_share = 1: expected a share of the rows read from 0 "
            "up to (not including) 1, e.g. 0.02 for 2%") in bad.stderr


def _job(tmp_path: Path, fail_on: str = "never") -> None:
    (tmp_path / "jobs").mkdir(exist_ok=True)
    (tmp_path / "drop").mkdir(exist_ok=True)
    (tmp_path / "jobs" / "nightly.toml").write_text(f"""[schedule]
cron = "30 2 * * *"
timezone = "UTC"

[[steps]]
type = "reconcile"
orders_glob = "{tmp_path}/drop/orders-*.csv"

[[steps]]
type = "report"
since = "365d"
out = "{tmp_path}/reports/{{date}}"
fail_on = "{fail_on}"
""", encoding="utf-8")


def _steps(db: Path) -> list[tuple[str, str, int]]:
    (steps,) = warehouse_rows(db, "SELECT steps FROM job_runs ORDER BY id DESC LIMIT 1")[0]
    return [(s["step"], s["outcome"], s["exit_code"]) for s in json.loads(steps)]


def test_a_job_step_with_too_many_rejects_fails_with_exit_2_storing_nothing(
        tmp_path: Path) -> None:
    env = _workdir(tmp_path)
    _job(tmp_path)
    _export(tmp_path / "drop" / "orders-1.csv", 100, THREE_IN_100)

    done = invoke_cli(["run", "nightly"], env, tmp_path)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "could not be read, more than max_rejected_share = 0.02 allows" in done.stderr
    assert _steps(tmp_path / "wh.duckdb")[0] == ("reconcile", "failed", 2)
    assert warehouse_rows(tmp_path / "wh.duckdb", "SELECT (SELECT count(*) FROM orders), "
                          "(SELECT count(*) FROM order_imports), (SELECT count(*) FROM "
                          "order_rejects)") == [(0, 0, 0)]


ONE_IN_200 = {41: "12.5O", 150: ""}  # lines 43 and 152: 1% of the rows


def _findings(env: dict[str, str], tmp_path: Path) -> list[dict[str, Any]]:
    done = invoke_cli(["--log-format", "json", "findings", "list", "--category", "order_rejected"],
                      env, tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["findings"]


def test_rejected_rows_of_a_file_that_loads_are_warning_findings_everywhere(
        tmp_path: Path) -> None:
    env = _workdir(tmp_path)
    export = _export(tmp_path / "orders.csv", 200, ONE_IN_200)
    reconciled = invoke_cli(["reconcile", "--orders", str(export)], env, tmp_path)
    report = invoke_cli(["report", "--since", "2026-11-01", "--until", "2026-12-01", "--out",
                         str(tmp_path / "r1"), "--fail-on", "warning"], env, tmp_path)
    critical = invoke_cli(["report", "--since", "2026-11-01", "--until", "2026-12-01", "--out",
                           str(tmp_path / "r2"), "--fail-on", "critical"], env, tmp_path)

    assert reconciled.returncode == 0, reconciled.stderr
    assert "200 rows read, 198 orders loaded, 0 left out by the filter, 2 rejected." in (
        reconciled.stdout)
    assert "order_rejected            warning          2" in reconciled.stdout
    found = _findings(env, tmp_path)
    assert [(f["order_id"], f["description"], f["state"]) for f in found] == [
        ("O150", f"{export} line 152, column 'amount': the amount is empty", "open"),
        ("O41", f"{export} line 43, column 'amount': '12.5O': the amount is not a number like "
                "1,234.50", "open")]
    assert report.returncode == 1
    assert ("done, 2 warning findings need attention (exit 1: --fail-on is warning)"
            in report.stdout)
    assert ("open findings of the last reconciliation: 2 (order_rejected 2); acknowledged: 0"
            in report.stdout)
    assert critical.returncode == 0, critical.stderr
    _in_every_format(tmp_path / "r1", export)

    for finding in found:
        acked = invoke_cli(["findings", "ack", finding["id"], "--note", "fixed in the shop"],
                           env, tmp_path)
        assert acked.returncode == 0, acked.stderr
    again = invoke_cli(["reconcile"], env, tmp_path)
    quiet = invoke_cli(["report", "--since", "2026-11-01", "--out", str(tmp_path / "r3"),
                        "--fail-on", "warning"], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert [f["state"] for f in _findings(env, tmp_path)] == ["acknowledged"] * 2
    assert quiet.returncode == 0, quiet.stdout


def _in_every_format(folder: Path, export: Path) -> None:
    data = json.loads((folder / "report.json").read_text())
    by_category = {c["category"]: c for c in data["findings"]["by_category"]}
    assert (by_category["order_rejected"]["severity"], by_category["order_rejected"]["open"]
            ) == ("warning", 2)
    assert data["at_stake"] == []
    rows = [line for line in (folder / "findings.csv").read_text().splitlines()
            if ",order_rejected," in line]
    assert len(rows) == 2
    assert f"{export} line 43, column 'amount': '12.5O'" in rows[0] + rows[1]
    sheet = openpyxl.load_workbook(folder / "report.xlsx")["Findings"]
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert sum(c == "order_rejected" for c in cells) == 2
    assert f"{export} line 152, column 'amount': the amount is empty" in cells
    page = (folder / "report.html").read_text()
    assert "0 critical</strong> and <strong class=\"sev-warning\">2 warning</strong>" in page
    assert "line 152, column &#39;amount&#39;: the amount is empty" in page


def test_a_rejected_row_keeps_its_finding_across_exports_and_only_the_last_import_counts(
        tmp_path: Path) -> None:
    """Keyed by its order id: the same broken row on another line of tomorrow's export is the
    same finding, still acknowledged; a row without an id is keyed by file and line. A clean
    export loaded after it leaves no order_rejected finding."""
    env = _workdir(tmp_path, "[orders]\nmax_rejected_share = 0.05\n")
    monday = _export(tmp_path / "monday.csv", 100, {41: "12.5O"}, age_seconds=7200)
    lines = monday.read_text().splitlines(keepends=True)
    lines[5] = ",1.00,USDT,cancelled,2026-11-10T10:00:00Z\n"  # line 6: no order id
    monday.write_text("".join(lines))
    assert invoke_cli(["reconcile", "--orders", str(monday)], env, tmp_path).returncode == 0
    first = {f["order_id"]: f["id"] for f in _findings(env, tmp_path)}
    acked = invoke_cli(["findings", "ack", first["O41"], "--note", "known"], env, tmp_path)
    tuesday = _export(tmp_path / "tuesday.csv", 100, {41: "12.5O"}, age_seconds=3600)
    tuesday.write_text(HEADER + "".join(f"N{n},1.00,USDT,cancelled,2026-11-11T10:00:00Z\n"
                                        for n in range(5))  # five new orders come first
                       + tuesday.read_text().removeprefix(HEADER))
    os.utime(tuesday, (time.time() - 3600, time.time() - 3600))
    assert invoke_cli(["reconcile", "--orders", str(tuesday)], env, tmp_path).returncode == 0
    second = _findings(env, tmp_path)
    clean = _export(tmp_path / "wednesday.csv", 100, {})
    assert invoke_cli(["reconcile", "--orders", str(clean)], env, tmp_path).returncode == 0

    assert acked.returncode == 0, acked.stderr
    assert set(first) == {"O41", None}
    assert [(f["order_id"], f["id"], f["state"]) for f in second] == [
        ("O41", first["O41"], "acknowledged")]
    assert second[0]["description"] == (f"{tuesday} line 48, column 'amount': '12.5O': the "
                                        "amount is not a number like 1,234.50")
    assert _findings(env, tmp_path) == []


@pytest.mark.parametrize("through_job", [False, True], ids=["orders load", "job"])
def test_the_newest_export_is_current_even_when_its_bytes_equal_an_earlier_import(
        tmp_path: Path, through_job: bool) -> None:
    env = _workdir(tmp_path)
    _job(tmp_path)
    drop = tmp_path / "drop"
    a_rows = HEADER + "X1,10.00,USDT,cancelled,2026-11-10T10:00:00Z\n"
    b_rows = HEADER + "X1,99.00,USDT,cancelled,2026-11-10T10:00:00Z\n"

    def deliver(name: str, text: str, age: float) -> Any:
        path = drop / name
        path.write_text(text, encoding="utf-8")
        os.utime(path, (time.time() - age, time.time() - age))
        args = ["run", "nightly"] if through_job else ["orders", "load", str(path)]
        done = invoke_cli(args, env, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        amount = warehouse_rows(tmp_path / "wh.duckdb", "SELECT amount_text FROM orders")
        return amount, done.stdout

    assert deliver("orders-1.csv", a_rows, 300)[0] == [("10.00",)]
    assert deliver("orders-2.csv", b_rows, 200)[0] == [("99.00",)]
    amount, said = deliver("orders-3.csv", a_rows, 100)
    assert amount == [("10.00",)]
    assert "already loaded" not in said
    if not through_job:
        again = invoke_cli(["orders", "load", str(drop / "orders-3.csv")], env, tmp_path)
        assert "already loaded with this mapping (import 3); nothing changed." in again.stdout
    assert warehouse_rows(tmp_path / "wh.duckdb", "SELECT count(*) FROM order_imports") == [
        (3,)]


def test_an_amount_past_18_decimals_is_refused_not_rounded(tmp_path: Path) -> None:
    """DECIMAL(38, 18) would round these, the first to zero: each row is rejected instead,
    and the amounts that fit, trailing zeros past the 18th decimal included, load exact."""
    env = _workdir(tmp_path)
    export = _export(tmp_path / "orders.csv", 100, {
        1: "0.00000000000000000049", 2: "5.0000000000000000005",
        3: "1.0000000000000000001", 4: "0.123456789012345678", 5: "2.50000000000000000000"})
    with_share = tmp_path / "pik-recon.toml"
    with_share.write_text("[orders]\nmax_rejected_share = 0.05\n" + with_share.read_text())

    done = invoke_cli(["orders", "load", str(export)], env, tmp_path)

    assert done.returncode == 0, done.stderr
    assert "100 rows read, 97 orders loaded, 0 left out by the filter, 3 rejected." in done.stdout
    for line, cell in ((3, "0.00000000000000000049"), (4, "5.0000000000000000005"),
                       (5, "1.0000000000000000001")):
        assert (f"{export} line {line}, column 'amount': '{cell}': the amount has more than "
                "18 decimals or 20 digits") in done.stdout + done.stderr
    stored = dict(warehouse_rows(tmp_path / "wh.duckdb", "SELECT order_id, amount FROM orders "
                                                         "WHERE order_id IN ('O4', 'O5')"))
    assert stored == {"O4": Decimal("0.123456789012345678"), "O5": Decimal("2.5")}


def _no_order_in(tmp_path: Path, case: str) -> Path:
    """An export with no order to load, and the config that reads it so."""
    if case == "all filtered out":
        (tmp_path / "pik-recon.toml").write_text(
            '[orders]\nfilter_column = "currency"\nfilter_values = ["BTC"]\n'
            f'[jobs]\ndir = "{tmp_path / "jobs"}"\n', encoding="utf-8")
    return _export(tmp_path / "orders.csv", 0 if case == "header only" else 100, {})


NO_ORDER = {"header only": "it holds a header and no rows",
            "all filtered out": "the filter (filter_column = 'currency', filter_values = "
                                "['BTC']) leaves out 100 of its 100 rows"}


@pytest.mark.parametrize("case", list(NO_ORDER))
def test_an_export_with_no_order_into_an_account_without_orders_is_refused(
        tmp_path: Path, case: str) -> None:
    """Every payment link would read as having no order: an export or a filter gone wrong."""
    env = _workdir(tmp_path)
    before = _snapshot(tmp_path / "wh.duckdb")
    export = _no_order_in(tmp_path, case)

    load = invoke_cli(["orders", "load", str(export)], env, tmp_path)
    reconcile = invoke_cli(["reconcile", "--orders", str(export)], env, tmp_path)

    assert load.returncode == reconcile.returncode == 2
    for run in (load, reconcile):
        assert (f"Error: {export}: no order to load: {NO_ORDER[case]}. The account holds no "
                "orders yet, so every payment link would read as having none; nothing was "
                "loaded.") in run.stderr
    assert _snapshot(tmp_path / "wh.duckdb") == before


@pytest.mark.parametrize("case", list(NO_ORDER))
def test_an_export_with_no_order_loads_as_a_quiet_window_and_says_so(
        tmp_path: Path, case: str) -> None:
    """Exports are often windows of recent orders: a day without any keeps the orders held."""
    env = _workdir(tmp_path)
    first = invoke_cli(["orders", "load", str(_export(tmp_path / "good.csv", 10, {}, 500))],
                       env, tmp_path)
    assert first.returncode == 0, first.stderr
    orders = _snapshot(tmp_path / "wh.duckdb")["orders"]
    export = _no_order_in(tmp_path, case)

    load = invoke_cli(["orders", "load", str(export)], env, tmp_path)

    assert load.returncode == 0, load.stderr
    assert (f"hint: no order in this export: {NO_ORDER[case]}; the 10 orders loaded before "
            "stay current") in load.stdout
    assert _snapshot(tmp_path / "wh.duckdb")["orders"] == orders
    assert len(orders) == 10


def test_a_rejected_row_of_an_order_held_from_an_earlier_export_has_no_creation_time(
        tmp_path: Path) -> None:
    """The finding is about the row, which could not be read: the creation time of the order
    an earlier export held is not the row's, so the reports leave it empty."""
    env = _workdir(tmp_path, "[orders]\nmax_rejected_share = 0.05\n")
    clean = _export(tmp_path / "monday.csv", 100, {}, age_seconds=7200)
    assert invoke_cli(["reconcile", "--orders", str(clean)], env, tmp_path).returncode == 0
    broken = _export(tmp_path / "tuesday.csv", 100, {41: "12.5O"}, age_seconds=3600)
    assert invoke_cli(["reconcile", "--orders", str(broken)], env, tmp_path).returncode == 0
    held = warehouse_rows(tmp_path / "wh.duckdb",
                          "SELECT created_at IS NOT NULL FROM orders WHERE order_id = 'O41'")
    out = tmp_path / "r"
    done = invoke_cli(["report", "--since", "2026-11-01", "--until", "2026-12-01", "--out",
                       str(out), "--format", "csv,xlsx"], env, tmp_path)

    assert done.returncode == 0, done.stderr
    assert held == [(True,)]
    with (out / "findings.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["category"] == "order_rejected"]
    assert [(r["order_id"], r["order_created_at"]) for r in rows] == [("O41", "")]
    sheet = openpyxl.load_workbook(out / "report.xlsx")["Findings"]
    header = [c.value for c in sheet[1]]
    (row,) = [r for r in sheet.iter_rows(min_row=2, values_only=True)
              if r[header.index("category")] == "order_rejected"]
    assert row[header.index("order created")] is None

"""Reports from a warehouse built from sample_data/: golden files, XLSX, HTML, exit codes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from pik_recon.config import load_config
from pik_recon.orders import load_orders
from pik_recon.reconcile import reconcile
from pik_recon.report import write_report
from pik_recon.sandbox.seed import sample_links_path, seed_from_file
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import Faults, SandboxState
from pik_recon.sync import sync_accounts
from pik_recon.warehouse import Warehouse, resource_dir
from pik_recon.whenparse import ACCEPTED_FORMS
from tests.conftest import API_KEY, invoke_cli, pik_recon_cmd, run_cli
from tests.integration.test_stakes import (
    WEBHOOK,
    findings_csv_stakes,
    planted_findings,
    planted_stakes,
    report_stakes,
)
from tests.integration.test_sync_waits import _on_a_terminal

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
SINCE, UNTIL = "2026-08-01", "2026-11-20T12:00:00+00:00"
SYNCED_AT = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def build_sample_warehouse(db: Path) -> None:
    """sample_data/ through the real sync, its links and its transactions, twice (the second
    as the next night's: its links sync is the verified one after the payments were seen), then
    two reconciliations (so some findings are new and some resolved), with the
    clock-dependent columns fixed: the first sync a day before the second."""
    state = SandboxState(api_key=API_KEY, faults=Faults(rate_limit_enabled=False))
    seed_from_file(state, sample_links_path())
    with SandboxServer(state) as server:
        config = load_config(db=str(db), base_url=server.base_url, env={"PIK_API_KEY": API_KEY})
        assert sync_accounts([config])[0].verified
        assert sync_accounts([config])[0].verified
    with Warehouse.open(db) as wh:
        wh.execute("UPDATE sync_runs SET started_at = ?, finished_at = ?",
                   [SYNCED_AT, SYNCED_AT])
        wh.execute("UPDATE sync_runs SET started_at = ?, finished_at = ? WHERE id <= "
                   "(SELECT min(id) FROM sync_runs WHERE resource = 'transactions')",
                   [SYNCED_AT - DAY, SYNCED_AT - DAY])
        wh.execute("UPDATE transactions SET first_seen_at = ?, last_seen_at = ?",
                   [SYNCED_AT - DAY, SYNCED_AT - DAY])
        load_orders(wh, resource_dir("sample_data") / "orders.csv", config.orders)
        reconcile(wh, config.matching, datetime(2026, 11, 10, tzinfo=UTC))
        reconcile(wh, config.matching, AS_OF)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("sample") / "wh.duckdb"
    build_sample_warehouse(db)
    return db


@pytest.fixture
def report_env(sample_db: Path, tmp_path: Path) -> dict[str, str]:
    db = tmp_path / "wh.duckdb"
    db.write_bytes(sample_db.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIK_")}
    return {**env, "PIK_RECON_DB": str(db)}


def test_golden_files(report_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = invoke_cli(["report", "--since", SINCE, "--until", UNTIL, "--out", str(out)],
                   report_env, tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("summary.csv", "findings.csv", "report.json"):
        assert (out / name).read_text(encoding="utf-8") == (GOLDEN / name).read_text(
            encoding="utf-8"), name
    assert {p.name for p in out.iterdir()} == {"summary.csv", "findings.csv", "report.json",
                                               "report.xlsx", "report.html"}
    assert not list(tmp_path.glob(".report-*"))  # the staging folder is gone


def _shown_decimals(number_format: str) -> int:
    return len(number_format.split(".")[1]) if "." in number_format else 0


def _width(sheet: openpyxl.worksheet.worksheet.Worksheet, column: int) -> float:
    """A column's width; neighbours of equal width share one <col> range in the file."""
    for dimension in sheet.column_dimensions.values():
        if dimension.min is not None and dimension.min <= column <= dimension.max:
            return dimension.width
    return sheet.column_dimensions[openpyxl.utils.get_column_letter(column)].width


def test_xlsx_amounts_dates_and_widths_as_finance_reads_them(sample_db: Path,
                                                              tmp_path: Path) -> None:
    with Warehouse.open(sample_db, read_only=True) as wh:
        data = write_report(wh, load_config(env={}).report, accounts=["default"],
                            since=datetime(2026, 8, 1, tzinfo=UTC), until=AS_OF, out=tmp_path,
                            formats=("xlsx",), now=AS_OF, max_rows=51)
    book = openpyxl.load_workbook(tmp_path / "report.xlsx")
    findings_sheets = [s for s in book.sheetnames if s.startswith("Findings")]
    assert len(findings_sheets) == -(-data.findings_total // 50) > 1  # continued sheets
    checked = eth_exact = 0
    for name in ["Summary", *findings_sheets]:
        sheet = book[name]
        header = {c.column_letter: c.value for c in sheet[1]}
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if not isinstance(cell.value, float | int) or "0" not in cell.number_format:
                    continue
                if "#,##0" not in cell.number_format:
                    continue
                exact_text = format(Decimal(repr(cell.value)), "f")
                places = len(exact_text.split(".")[1].rstrip("0")) if "." in exact_text else 0
                shown = _shown_decimals(cell.number_format)
                assert shown >= min(places, 15), (name, cell.coordinate, cell.number_format)
                text = f"{cell.value:,.{shown}f}"
                width = _width(sheet, cell.column)
                assert width >= len(text), (name, cell.coordinate, text, width)
                checked += 1
                neighbour = sheet.cell(cell.row, cell.column + 1)
                beside = header.get(neighbour.column_letter) or ""
                if neighbour.value is not None and beside.endswith("(exact)"):
                    # more than 15 digits are beyond a double: the exact text is beside it
                    exact_value = Decimal(neighbour.value)
                    assert len(exact_value.normalize().as_tuple().digits) > 15
                    assert abs(exact_value - Decimal(repr(cell.value))) < Decimal("1e-9")
                    eth_exact += 1
    assert checked > 200 and eth_exact > 5
    findings = book["Findings"]
    header = [c.value for c in findings[1]]
    created, paid = header.index("order created"), header.index("link paid")
    rows = list(findings.iter_rows(min_row=2, values_only=True))
    assert any(isinstance(r[created], datetime) for r in rows)
    assert any(isinstance(r[paid], datetime) for r in rows)
    assert all(r[created] is None or isinstance(r[created], datetime) for r in rows)
    labels = [c.value for c in book["Summary"]["A"] if isinstance(c.value, str)]
    assert _width(book["Summary"], 1) >= max(
        len(v) for v in labels if len(v) < 40)
    assert findings.freeze_panes == "A2" and findings.auto_filter.ref is not None


def test_xlsx_keeps_the_exact_text_of_an_18_decimal_amount(sample_db: Path,
                                                            tmp_path: Path) -> None:
    with Warehouse.open(sample_db, read_only=True) as wh:
        write_report(wh, load_config(env={}).report, accounts=["default"],
                     since=datetime(2026, 8, 1, tzinfo=UTC), until=AS_OF, out=tmp_path,
                     formats=("xlsx",), now=AS_OF)
        wanted = wh.fetchall("SELECT order_id, CAST(link_amount AS VARCHAR) FROM findings "
                             "WHERE link_currency = 'ETH' AND run_id = 2 AND link_amount IS "
                             "NOT NULL")
    sheet = openpyxl.load_workbook(tmp_path / "report.xlsx")["Findings"]
    header = [c.value for c in sheet[1]]
    order, number, text = (header.index(h) for h in ("order", "link amount",
                                                     "link amount (exact)"))
    rows = {r[order]: r for r in sheet.iter_rows(min_row=2, values_only=True) if r[order]}
    long = [(o, Decimal(v)) for o, v in wanted if o in rows
            and len(Decimal(v).normalize().as_tuple().digits) > 15]
    assert len(long) >= 3
    for order_id, amount in long:
        assert Decimal(rows[order_id][text]) == amount  # every digit, as text
        assert abs(Decimal(repr(rows[order_id][number])) - amount) < Decimal("1e-12")


def test_the_workbook_lists_the_first_xlsx_findings_and_says_findings_csv_has_all(
        sample_db: Path, tmp_path: Path) -> None:
    settings = load_config(env={}).report
    with Warehouse.open(sample_db, read_only=True) as wh:
        every = write_report(wh, settings, accounts=["default"],
                             since=datetime(2026, 8, 1, tzinfo=UTC), until=AS_OF,
                             out=tmp_path / "all", formats=("csv", "xlsx"), now=AS_OF)
        data = write_report(wh, replace(settings, xlsx_findings=40), accounts=["default"],
                            since=datetime(2026, 8, 1, tzinfo=UTC), until=AS_OF,
                            out=tmp_path / "first", formats=("csv", "xlsx"), now=AS_OF)
    assert settings.xlsx_findings == 50_000
    with (tmp_path / "first" / "findings.csv").open(encoding="utf-8") as fh:
        ids = [row["finding_id"] for row in csv.DictReader(fh)]
    assert len(ids) == data.findings_total > 40  # the CSV still has every finding

    def sheets(folder: str) -> tuple[list[str], list[Any], dict[str, list[tuple[Any, ...]]]]:
        book = openpyxl.load_workbook(tmp_path / folder / "report.xlsx", read_only=True)
        summary = [row[0] for row in book["Summary"].iter_rows(values_only=True)
                   if row and row[0] is not None]
        rows = {name: list(book[name].iter_rows(min_row=2, values_only=True))
                for name in book.sheetnames}
        return book.sheetnames, summary, rows

    names, summary, rows = sheets("first")
    assert names == ["Summary", "Findings", "Transactions"]
    assert [r[1] for r in rows["Findings"]] == ids[:40]  # the first 40, in report order
    told = (f"This workbook lists the first 40 of the {data.findings_total:,} findings (open "
            "first, then critical first); findings.csv lists every one.")
    assert summary.count(told) == 1
    _, every_summary, every_rows = sheets("all")
    assert [r[1] for r in every_rows["Findings"]] == ids  # by default: every one
    assert not any(str(line).startswith("This workbook lists") for line in every_summary)
    assert [line for line in summary if line != told] == every_summary
    # the payments of the findings listed, each as in the full workbook, and no other
    listed = set(ids[:40])
    assert rows["Transactions"] == [t for t in every_rows["Transactions"] if t[1] in listed]
    assert every_rows["Transactions"] and rows["Transactions"] != every_rows["Transactions"]
    assert every.findings_total == data.findings_total


INJECTIONS = ["=HYPERLINK(\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR",
              "<script>alert(1)</script>"]


def test_injection_is_neutralised(report_env: dict[str, str], tmp_path: Path) -> None:
    db = Path(report_env["PIK_RECON_DB"])
    with Warehouse.open(db) as wh:
        for i, text in enumerate(INJECTIONS):
            wh.execute("INSERT INTO payment_links VALUES (?, NULL, 5, '5', 'USDT', ?, 'paid', "
                       "?, ?, now(), now(), 1, NULL, 'default')",
                       [f"pl_inject{i}", text, AS_OF, AS_OF])
        reconcile(wh, load_config(env={}).matching, AS_OF)
    out = tmp_path / "out"
    done = invoke_cli(["report", "--since", SINCE, "--until", "2026-11-21", "--out", str(out)],
                   report_env, tmp_path)
    assert done.returncode == 0, done.stderr
    with (out / "findings.csv").open(encoding="utf-8", newline="") as fh:
        described = {r["link_id"]: r["description"] for r in csv.DictReader(fh)
                     if r["link_id"].startswith("pl_inject")}
    assert described == {f"pl_inject{i}": ("'" + text if i < len(INJECTIONS) - 1 else text)
                         for i, text in enumerate(INJECTIONS)}
    book = openpyxl.load_workbook(out / "report.xlsx")
    sheet = book["Findings"]
    header = [c.value for c in sheet[1]]
    link_col, text_col = header.index("link"), header.index("description")
    cells = {row[link_col].value: row[text_col] for row in sheet.iter_rows(min_row=2)
             if str(row[link_col].value).startswith("pl_inject")}
    assert all(c.data_type == "s" for c in cells.values())  # text, never a formula
    # a CR is stored as Excel's escape _x000D_ (Excel shows it as CR; openpyxl does not)
    assert {k: c.value.replace("_x000D_", "\r") for k, c in cells.items()} == {
        f"pl_inject{i}": text for i, text in enumerate(INJECTIONS)}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http://" not in html and "https://" not in html and "//" not in html.replace(
        "<!--", "")


def _paid_links_reported(report_env: dict[str, str], tmp_path: Path, zone: str,
                         formats: str, links: list[tuple[str, str, str, str, datetime]]
                         ) -> Path:
    """Paid links (id, amount, currency, description, paid at) added and reconciled, then a
    report in `zone` of `formats`: its folder."""
    with Warehouse.open(Path(report_env["PIK_RECON_DB"])) as wh:
        for link_id, amount, currency, text, paid in links:
            wh.execute("INSERT INTO payment_links VALUES (?, NULL, ?, ?, ?, ?, 'paid', ?, ?, "
                       "now(), now(), 1, NULL, 'default')",
                       [link_id, Decimal(amount), amount, currency, text, AS_OF, paid])
        reconcile(wh, load_config(env={}).matching, AS_OF)
    (tmp_path / "pik-recon.toml").write_text(f'[report]\ntimezone = "{zone}"\n',
                                             encoding="utf-8")
    out = tmp_path / "out"
    done = invoke_cli(["report", "--since", SINCE, "--until", "2026-11-21", "--out", str(out),
                       "--format", formats],
                      {**report_env, "PIK_RECON_CONFIG": str(tmp_path / "pik-recon.toml")},
                      tmp_path)
    assert done.returncode == 0, done.stderr
    return out


# (description, amount, currency, paid at): each as findings.csv must write it
WRITTEN = [("a,b", "5", "USDT", datetime(2026, 11, 10, 10, 0, 0, 900_000, tzinfo=UTC)),
           ('say "hi"', "0.1", "BTC", datetime(2026, 7, 10, 10, 0, tzinfo=UTC)),
           ("two\nlines", "0.000000000000000001", "XYZ", datetime(2026, 11, 10, 23, 59, 59,
                                                                 tzinfo=UTC)),
           ("#tag", "1234567.5", "USDC", datetime(2026, 11, 11, 0, 0, tzinfo=UTC))]
PAID_AT = {"Asia/Kolkata": ["2026-11-10T15:30:00+05:30", "2026-07-10T15:30:00+05:30",
                            "2026-11-11T05:29:59+05:30", "2026-11-11T05:30:00+05:30"],
           "America/New_York": ["2026-11-10T05:00:00-05:00", "2026-07-10T06:00:00-04:00",
                                "2026-11-10T18:59:59-05:00", "2026-11-10T19:00:00-05:00"]}


@pytest.mark.parametrize("zone", list(PAID_AT))
def test_findings_csv_writes_text_amounts_and_times_as_finance_reads_them(
        report_env: dict[str, str], tmp_path: Path, zone: str) -> None:
    """Quoted only where CSV needs it, amounts exact to the currency's decimals and beyond,
    times in the report's zone to the second (never rounded up), with the offset of the day."""
    out = _paid_links_reported(report_env, tmp_path, zone, "csv", [
        (f"pl_written{i}", amount, currency, text, paid)
        for i, (text, amount, currency, paid) in enumerate(WRITTEN)])
    raw = (out / "findings.csv").read_bytes()
    with (out / "findings.csv").open(encoding="utf-8", newline="") as fh:
        rows = {r["link_id"]: r for r in csv.DictReader(fh)
                if r["link_id"].startswith("pl_written")}
    assert {k: (r["description"], r["link_amount"], r["link_paid_at"])
            for k, r in rows.items()} == {
        "pl_written0": ("a,b", "5.00", PAID_AT[zone][0]),
        "pl_written1": ('say "hi"', "0.10000000", PAID_AT[zone][1]),
        "pl_written2": ("two\nlines", "0.000000000000000001", PAID_AT[zone][2]),
        "pl_written3": ("#tag", "1234567.50", PAID_AT[zone][3])}
    assert b',"a,b",' in raw and b',"say ""hi""",' in raw and b',"two\nlines",' in raw
    assert b",#tag," in raw  # unquoted, as any CSV writer leaves it
    assert raw.endswith(b"\r\n")  # every row ends CRLF; a bare LF only inside a value
    assert raw.count(b"\n") - raw.count(b"\r\n") == raw.count(b"two\nlines") >= 1


TURNS = [datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC), datetime(2026, 3, 29, 1, tzinfo=UTC),
         datetime(2026, 10, 25, 0, 59, 59, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC),
         datetime(2026, 10, 26, 12, tzinfo=UTC), datetime(2026, 11, 10, 12, tzinfo=UTC)]


@pytest.mark.parametrize("zone", ["Europe/Chisinau", "Africa/Casablanca", "America/Havana",
                                  "Australia/Lord_Howe", "Asia/Kathmandu"])
def test_findings_csv_and_the_workbook_tell_the_same_local_time(
        report_env: dict[str, str], tmp_path: Path, zone: str) -> None:
    """Both files read the zone's rules from one time-zone database, around its changes."""
    out = _paid_links_reported(report_env, tmp_path, zone, "csv,xlsx", [
        (f"pl_turn{i}", "5", "USDT", "turn", paid) for i, paid in enumerate(TURNS)])
    with (out / "findings.csv").open(encoding="utf-8", newline="") as fh:
        in_csv = {r["link_id"]: r["link_paid_at"] for r in csv.DictReader(fh)
                  if r["link_id"].startswith("pl_turn")}
    sheet = openpyxl.load_workbook(out / "report.xlsx", read_only=True)["Findings"]
    rows = sheet.iter_rows(values_only=True)
    header = list(next(rows))
    link, paid = header.index("link"), header.index("link paid")
    in_book = {r[link]: r[paid] for r in rows if str(r[link]).startswith("pl_turn")}
    assert len(in_csv) == len(TURNS) and in_book.keys() == in_csv.keys()
    for key, text in in_csv.items():
        moment = datetime.fromisoformat(text)
        assert moment == TURNS[int(key[len("pl_turn"):])]  # the instant, exactly
        assert moment.replace(tzinfo=None) == in_book[key]  # the same local time
        assert moment.utcoffset() == moment.astimezone(ZoneInfo(zone)).utcoffset()


def _planted_differences() -> dict[str, Decimal]:
    """Link amount minus order amount of each planted amount_mismatch, from sample_data/."""
    mismatched = {order: link for category, order, link in planted_findings()
                  if category == "amount_mismatch"}
    with (resource_dir("sample_data") / "orders.csv").open(encoding="utf-8", newline="") as fh:
        ordered = {r["order_id"]: Decimal(r["amount"]) for r in csv.DictReader(fh)
                   if r["order_id"] in mismatched}
    links = {}
    with (resource_dir("sample_data") / "links.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            link = json.loads(line)
            links[link["id"]] = Decimal(link["amount"])
    return {order: links[link] - ordered[order] for order, link in mismatched.items()}


def test_negative_numbers_stay_numbers(report_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = invoke_cli(["report", "--since", SINCE, "--until", UNTIL, "--out", str(out),
                       "--format", "csv"], report_env, tmp_path)
    assert done.returncode == 0, done.stderr
    with (out / "findings.csv").open(encoding="utf-8", newline="") as fh:
        differences = {r["order_id"]: r["difference"] for r in csv.DictReader(fh)
                       if r["category"] == "amount_mismatch"}
    planted = _planted_differences()
    assert min(planted.values()) < 0  # under-payments among them
    # as numbers, "-0.007871", never the text "'-0.007871" a formula guard would make
    assert {order: Decimal(d) for order, d in differences.items()} == planted


# (form, the instant it means at `now`, in report.json's period)
SINCE_FORMS = [
    ("2026-11-01", lambda now: datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-01T08:00:00+01:00", lambda now: datetime(2026, 11, 1, 7, tzinfo=UTC)),
    ("yesterday", lambda now: datetime.combine(now.date() - timedelta(days=1),
                                               datetime.min.time(), UTC)),
    ("today", lambda now: datetime.combine(now.date(), datetime.min.time(), UTC)),
    ("7d", lambda now: now - timedelta(days=7)),
    ("36h", lambda now: now - timedelta(hours=36)),
]


@pytest.mark.parametrize(("when", "meaning"), SINCE_FORMS, ids=[f for f, _ in SINCE_FORMS])
def test_since_forms(report_env: dict[str, str], tmp_path: Path, when: str,
                     meaning: Callable[[datetime], datetime]) -> None:
    before = datetime.now(UTC)
    done = invoke_cli(["report", "--since", when, "--out", str(tmp_path / "o"), "--format",
                       "json"], report_env, tmp_path)
    after = datetime.now(UTC)
    assert done.returncode == 0, done.stderr
    since = datetime.fromisoformat(json.loads(
        (tmp_path / "o" / "report.json").read_text(encoding="utf-8"))["period"]["since"])
    assert meaning(before).replace(microsecond=0) <= since <= meaning(after), (when, since)


def test_bad_since_is_exit_2_with_the_forms(report_env: dict[str, str],
                                            tmp_path: Path) -> None:
    done = invoke_cli(["report", "--since", "last tuesday"], report_env, tmp_path)
    assert done.returncode == 2
    assert ACCEPTED_FORMS in " ".join(done.stderr.split())


@pytest.mark.parametrize(("fail_on", "code"), [("never", 0), ("warning", 1), ("critical", 1)])
def test_fail_on(report_env: dict[str, str], tmp_path: Path, fail_on: str, code: int) -> None:
    done = invoke_cli(["report", "--since", SINCE, "--until", UNTIL, "--out",
                       str(tmp_path / "o"), "--fail-on", fail_on], report_env, tmp_path)
    assert done.returncode == code


def test_fail_on_with_only_info_findings(report_env: dict[str, str], tmp_path: Path) -> None:
    db = Path(report_env["PIK_RECON_DB"])
    with Warehouse.open(db) as wh:
        wh.execute("DELETE FROM findings WHERE severity <> 'info'")
    for fail_on in ("warning", "critical"):
        done = invoke_cli(["report", "--since", SINCE, "--until", UNTIL, "--out",
                           str(tmp_path / "o"), "--fail-on", fail_on], report_env, tmp_path)
        assert done.returncode == 0


def test_report_waits_for_a_writer(report_env: dict[str, str], tmp_path: Path) -> None:
    """Another process writes the warehouse until the report has said it waits; the report
    then goes on, however slowly either process started."""
    db = report_env["PIK_RECON_DB"]
    writer = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True);"
        " sys.stdin.readline(); c.close()"), db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    assert writer.stdout.readline().strip() == "open"
    report = subprocess.Popen([*pik_recon_cmd(), "report", "--since", SINCE, "--until", UNTIL,
                               "--out", str(tmp_path / "o")], env=report_env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said = []
    while not said or "is busy; waiting" not in said[-1]:
        line = report.stderr.readline()
        assert line, f"the report ended without waiting: {''.join(said)}"
        said.append(line)
    assert report.poll() is None  # still waiting for the writer
    writer.communicate("close\n", timeout=30)
    stderr = report.communicate(timeout=120)[1]
    assert report.returncode == 0, stderr
    assert json.loads((tmp_path / "o" / "report.json").read_text())["findings"]["total"] > 0


def test_the_golden_files_hold_the_planted_truth() -> None:
    """The goldens are not only what the code once wrote: they hold the findings, the money
    at stake and the figures sample_data/ was planted with (the golden period holds every
    planted order, link and payment: none is older than 60 days). Webhook capture is off
    for the goldens' account: no webhook finding."""
    with (GOLDEN / "findings.csv").open(encoding="utf-8", newline="") as fh:
        listed = {(r["category"], r["order_id"], r["link_ids"]) for r in csv.DictReader(fh)}
    assert listed == planted_findings(leave_out=WEBHOOK)
    assert findings_csv_stakes(GOLDEN / "findings.csv") == planted_stakes(leave_out=WEBHOOK)
    report = json.loads((GOLDEN / "report.json").read_text(encoding="utf-8"))
    assert report_stakes(report) == planted_stakes(leave_out=WEBHOOK)
    figures = json.loads((resource_dir("sample_data") / "expected_figures.json").read_text())
    with (GOLDEN / "summary.csv").open(encoding="utf-8", newline="") as fh:
        summary = {r["currency"]: r for r in csv.DictReader(fh)}
    assert set(summary) == set(figures["currencies"])
    for currency, expected in figures["currencies"].items():
        for name in ("invoiced", "collected", "outstanding", "expired_lost", "received",
                     "settled", "in_transit", "underpaid", "overpaid"):
            want = expected.get(name, {"count": 0, "amount": "0"})
            assert (int(summary[currency][f"{name}_count"]),
                    Decimal(summary[currency][f"{name}_amount"])) == (
                want["count"], Decimal(want["amount"])), (currency, name)
    assert [(a["currency"], a["bucket"], a["count"], Decimal(a["amount"]))
            for a in report["in_transit_aging"]] == [
        (a["currency"], a["bucket"], a["count"], Decimal(a["amount"]))
        for a in figures["in_transit_aging"]]


def test_a_terminal_sees_each_step_of_the_report_and_a_pipe_sees_none(
        report_env: dict[str, str], tmp_path: Path) -> None:
    args = ["report", "--since", SINCE, "--until", UNTIL, "--out", str(tmp_path / "out")]
    code, shown = _on_a_terminal(args, report_env, tmp_path)
    assert code == 0
    bars = {line.split()[0]: line.split()[-2] for line in shown
            if line.split() and line.split()[0] in ("figures", "findings.csv", "report.xlsx",
                                                    "report.json", "report.html")}
    with (tmp_path / "out" / "findings.csv").open(encoding="utf-8") as fh:
        listed = sum(1 for _ in csv.reader(fh)) - 1  # every finding the files list
    assert listed > 100
    assert bars == {"figures": "1/1", "findings.csv": f"{listed}/{listed}",
                    "report.xlsx": f"{listed}/{listed}", "report.json": "1/1",
                    "report.html": "1/1"}
    piped = run_cli(args, report_env, tmp_path)
    assert piped.returncode == 0
    assert "findings.csv" not in piped.stderr
    as_json = run_cli(["--log-format", "json", *args], report_env, tmp_path)
    assert as_json.returncode == 0
    assert "findings.csv" not in as_json.stderr


def test_a_sync_that_did_not_finish_after_the_figures_is_said_first(
        report_env: dict[str, str], tmp_path: Path) -> None:
    """The verified sync of the figures, then one refused for its key: the report leads with
    it in every format, and says the figures are the earlier sync's."""
    state = SandboxState(api_key=API_KEY, faults=Faults(rate_limit_enabled=False))
    seed_from_file(state, sample_links_path())
    with SandboxServer(state) as server:
        refused = invoke_cli(["sync"], {**report_env, "PIK_BASE_URL": server.base_url,
                                        "PIK_API_KEY": "sk_not_this_account"}, tmp_path)
    assert refused.returncode == 3, refused.stderr
    out = tmp_path / "out"

    done = invoke_cli(["report", "--since", SINCE, "--until", UNTIL, "--out", str(out)],
                      report_env, tmp_path)

    assert done.returncode == 0, done.stderr
    said = ("The last sync, begun ", "did not finish (PIK refused the API key (401",
            "the figures are those of the sync that finished 20 Nov 2026 11:00 UTC")
    first = done.stdout.splitlines()[0]
    assert all(part in first for part in said), done.stdout
    fresh = json.loads((out / "report.json").read_text(encoding="utf-8"))["freshness"]
    assert fresh["verified"] is True  # the figures' own sync
    assert fresh["last_failed_sync"]["why"].startswith("PIK refused the API key (401")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert all(part in page for part in said)
    assert "sk_not_this_account" not in done.stdout + page + json.dumps(fresh)


@pytest.mark.parametrize(("options", "message"), [
    (["--since", "0d"], "Invalid value for --since: '0d' is "),
    (["--since", "2999-01-01"], "not before now (the period ends now when --until is not given)"),
    (["--since", SINCE, "--until", "2026-07-01"], "Invalid value for --until: must be after "
                                                  "--since"),
    (["--since", SINCE, "--format", "csv,,json"], "Invalid value for --format: report formats "
                                                  "'csv,,json': an empty entry"),
    (["--since", SINCE, "--format", ","], "Invalid value for --format: report formats ',': "
                                          "an empty entry"),
    (["--since", SINCE, "--format", "csv,pdf"], "Invalid value for --format: report formats "
                                                "'csv,pdf': unknown pdf; choose from csv"),
])
def test_a_bad_period_or_format_names_the_option_at_fault_and_writes_nothing(
        report_env: dict[str, str], tmp_path: Path, options: list[str], message: str) -> None:
    out = tmp_path / "out"
    done = invoke_cli(["report", *options, "--out", str(out)], report_env, tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert not out.exists()

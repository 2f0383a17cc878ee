"""Writing the report: summary.csv, findings.csv, report.xlsx, report.html, report.json.

Files are written into a temporary folder beside the target and moved into place one by
one, so a reader never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import csv
import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter
from jinja2 import Environment, PackageLoader, select_autoescape

from pik_recon.config import ReportSettings
from pik_recon.money import currency_decimals
from pik_recon.paths import ensure_folder
from pik_recon.report import (
    FINDING_COLUMNS,
    SUMMARY_FIELDS,
    ReportData,
    gather,
    iter_findings,
    select_findings,
)
from pik_recon.warehouse import Warehouse

EXCEL_MAX_ROWS = 1_048_576
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
DISPLAY_DECIMALS = {"USDT": 2, "USDC": 2, "USD": 2, "EUR": 2, "DAI": 2}
CSV_FINDING_COLUMNS = (*FINDING_COLUMNS[:-1], "new")
JSON_VERSION = 1


def display_decimals(currency: str | None) -> int:
    code = (currency or "").upper()
    return DISPLAY_DECIMALS.get(code, currency_decimals(code))


def format_amount(value: Decimal | None, currency: str | None) -> str:
    """Exact, never rounded: padded to the currency's usual decimals, never cut."""
    if value is None:
        return ""
    places = display_decimals(currency)
    exponent = value.normalize().as_tuple().exponent
    scale = max(places, -exponent if isinstance(exponent, int) else 0)
    return format(value.quantize(Decimal(1).scaleb(-scale)), "f")


def neutralise(value: Any) -> Any:
    """Text from outside must not run as a formula in a spreadsheet: prefix a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat() if moment is not None else ""


# --- CSV ---------------------------------------------------------------------------------
def write_summary_csv(data: ReportData, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["currency"] + [f"{name}_{kind}" for name in SUMMARY_FIELDS
                                        for kind in ("count", "amount")])
        for row in data.summary:
            cells: list[Any] = [neutralise(row.currency)]
            for name in SUMMARY_FIELDS:
                cells += [row.counts[name], format_amount(row.amounts[name], row.currency)]
            writer.writerow(cells)


def finding_cells(row: tuple[Any, ...]) -> list[Any]:
    """A finding as report cells: exact amount text, neutralised text, yes/no."""
    record = dict(zip(FINDING_COLUMNS, row, strict=True))
    cells: list[Any] = []
    for column in FINDING_COLUMNS[:-1]:
        value = record[column]
        if column in ("order_amount", "difference"):
            cells.append(format_amount(value, record["order_currency"]
                                       or record["link_currency"]))
        elif column == "link_amount":
            cells.append(format_amount(value, record["link_currency"]))
        else:
            cells.append("" if value is None else neutralise(value))
    cells.append("yes" if record["is_new"] else "no")
    return cells


def write_findings_csv(batches: Iterator[list[tuple[Any, ...]]], path: Path) -> int:
    written = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_FINDING_COLUMNS)
        for batch in batches:
            writer.writerows(finding_cells(row) for row in batch)
            written += len(batch)
    return written


# --- JSON --------------------------------------------------------------------------------
def report_json(data: ReportData) -> dict[str, Any]:
    """The machine-readable report; its keys are documented in the README and stable."""
    fresh = data.freshness
    return {
        "report_version": JSON_VERSION,
        "period": {"since": data.since.isoformat(), "until": data.until.isoformat(),
                   "timezone": data.timezone},
        "freshness": {"last_sync_at": fresh.last_sync_at.isoformat()
                      if fresh.last_sync_at else None,
                      "verified": fresh.verified, "verdict": fresh.verdict,
                      "stale": fresh.stale, "stale_after_hours": fresh.stale_after_hours},
        "reconcile_run": {"id": data.run_id, "previous_id": data.previous_run_id,
                          "as_of": data.run_as_of.isoformat() if data.run_as_of else None},
        "summary": [{"currency": row.currency, **{
            name: {"count": row.counts[name],
                   "amount": format_amount(row.amounts[name], row.currency)}
            for name in SUMMARY_FIELDS}} for row in data.summary],
        "aging": [{"currency": a.currency, "bucket": a.bucket, "count": a.count,
                   "amount": format_amount(a.amount, a.currency)} for a in data.aging],
        "findings": {"total": data.findings_total, "by_category": [
            {"category": c.category, "severity": c.severity, "count": c.count, "new": c.new,
             "resolved": c.resolved} for c in data.by_category]},
    }


def write_json(data: ReportData, path: Path) -> None:
    path.write_text(json.dumps(report_json(data), indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")


# --- XLSX --------------------------------------------------------------------------------
class _Formats:
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.book = book
        self.header = book.add_format({"bold": True, "bg_color": "#E8EEF4", "border": 1})
        self.date = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        self.bold = book.add_format({"bold": True})
        self._amounts: dict[int, Any] = {}

    def amount(self, currency: str | None) -> Any:
        places = display_decimals(currency)
        if places not in self._amounts:
            pattern = "#,##0" + ("." + "0" * places if places else "")
            self._amounts[places] = self.book.add_format({"num_format": pattern})
        return self._amounts[places]


def write_xlsx(data: ReportData, batches: Iterator[list[tuple[Any, ...]]], path: Path,
               max_rows: int = EXCEL_MAX_ROWS) -> int:
    """A Summary sheet and Findings sheets (continued past Excel's row limit)."""
    zone = ZoneInfo(data.timezone)
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True,
                                           "strings_to_formulas": False,
                                           "strings_to_numbers": False})
    formats = _Formats(book)
    _summary_sheet(book, formats, data, zone)
    written = _findings_sheets(book, formats, batches, zone, max_rows)
    book.close()
    return written


def _summary_sheet(book: xlsxwriter.Workbook, fmt: _Formats, data: ReportData,
                   zone: ZoneInfo) -> None:
    sheet = book.add_worksheet("Summary")
    header = ["currency"] + [f"{name.replace('_', '/')} {kind}" for name in SUMMARY_FIELDS
                             for kind in ("count", "amount")]
    sheet.write_row(0, 0, header, fmt.header)
    sheet.freeze_panes(1, 0)
    for r, row in enumerate(data.summary, start=1):
        sheet.write_string(r, 0, row.currency)
        for i, name in enumerate(SUMMARY_FIELDS):
            sheet.write_number(r, 1 + 2 * i, row.counts[name])
            sheet.write_number(r, 2 + 2 * i, row.amounts[name], fmt.amount(row.currency))
    sheet.autofilter(0, 0, max(len(data.summary), 1), len(header) - 1)
    sheet.set_column(0, 0, 10)
    sheet.set_column(1, len(header) - 1, 16)
    r = len(data.summary) + 2
    sheet.write_row(r, 0, ["aging (unpaid)", "bucket", "count", "amount"], fmt.header)
    for a in data.aging:
        r += 1
        sheet.write_string(r, 0, a.currency)
        sheet.write_string(r, 1, a.bucket)
        sheet.write_number(r, 2, a.count)
        sheet.write_number(r, 3, a.amount, fmt.amount(a.currency))
    r += 2
    sheet.write_row(r, 0, ["category", "severity", "findings", "new", "resolved"], fmt.header)
    for c in data.by_category:
        r += 1
        sheet.write_row(r, 0, [c.category, c.severity])
        sheet.write_row(r, 2, [c.count, c.new, c.resolved])
    r += 2
    fresh = data.freshness
    lines: list[tuple[str, Any]] = [
        ("period from", data.since), ("period until", data.until),
        ("time zone", data.timezone), ("last sync", fresh.last_sync_at),
        ("last sync verdict", fresh.verdict or "no sync yet"),
        ("data is stale", "yes" if fresh.stale else "no"),
        ("reconciliation run", data.run_id if data.run_id is not None else "none yet")]
    for label, value in lines:
        sheet.write_string(r, 0, label, fmt.bold)
        if isinstance(value, datetime):
            sheet.write_datetime(r, 1, value.astimezone(zone).replace(tzinfo=None), fmt.date)
        elif isinstance(value, int):
            sheet.write_number(r, 1, value)
        else:
            sheet.write_string(r, 1, str(value))
        r += 1


_TEXT_COLUMNS = {"category", "severity", "order_id", "link_id", "link_ids", "order_currency",
                 "link_currency", "order_status", "link_status", "match_method", "description"}
_XLSX_COLUMNS = (*CSV_FINDING_COLUMNS, "order_amount (exact)", "link_amount (exact)",
                 "difference (exact)")
_WIDTHS = {"order_id": 16, "link_id": 26, "link_ids": 30, "description": 36, "category": 22}


def _findings_sheets(book: xlsxwriter.Workbook, fmt: _Formats,
                     batches: Iterator[list[tuple[Any, ...]]], zone: ZoneInfo,
                     max_rows: int) -> int:
    sheet, row_no, sheets, written = None, 0, 0, 0
    for batch in batches:
        for row in batch:
            if sheet is None or row_no >= max_rows:
                if sheet is not None:
                    sheet.autofilter(0, 0, row_no - 1, len(_XLSX_COLUMNS) - 1)
                sheets += 1
                sheet = book.add_worksheet("Findings" if sheets == 1 else f"Findings {sheets}")
                sheet.write_row(0, 0, _XLSX_COLUMNS, fmt.header)
                sheet.freeze_panes(1, 0)
                for i, column in enumerate(_XLSX_COLUMNS):
                    sheet.set_column(i, i, _WIDTHS.get(column, 14))
                row_no = 1
            _finding_row(sheet, fmt, row_no, row)
            row_no += 1
            written += 1
    if sheet is None:
        sheet = book.add_worksheet("Findings")
        sheet.write_row(0, 0, _XLSX_COLUMNS, fmt.header)
        row_no = 1
    sheet.autofilter(0, 0, max(row_no - 1, 1), len(_XLSX_COLUMNS) - 1)
    return written


def _finding_row(sheet: Any, fmt: _Formats, r: int, row: tuple[Any, ...]) -> None:
    record = dict(zip(FINDING_COLUMNS, row, strict=True))
    currency = record["order_currency"] or record["link_currency"]
    for c, column in enumerate(CSV_FINDING_COLUMNS):
        value = record.get(column)
        if column == "new":
            sheet.write_string(r, c, "yes" if record["is_new"] else "no")
        elif value is None:
            sheet.write_blank(r, c, None)
        elif column in _TEXT_COLUMNS:
            sheet.write_string(r, c, str(value))
        elif isinstance(value, Decimal):
            cur = record["link_currency"] if column == "link_amount" else currency
            sheet.write_number(r, c, value, fmt.amount(cur))
        else:
            sheet.write_number(r, c, value)
    base = len(CSV_FINDING_COLUMNS)
    sheet.write_string(r, base, format_amount(record["order_amount"], currency))
    sheet.write_string(r, base + 1, format_amount(record["link_amount"],
                                                  record["link_currency"]))
    sheet.write_string(r, base + 2, format_amount(record["difference"], currency))


# --- HTML --------------------------------------------------------------------------------
def write_html(data: ReportData, top: list[tuple[Any, ...]], path: Path,
               generated_at: datetime) -> None:
    env = Environment(loader=PackageLoader("pik_recon", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    env.filters["amount"] = format_amount
    zone = ZoneInfo(data.timezone)
    env.filters["local"] = lambda moment: _local(moment, zone)
    findings = [dict(zip(FINDING_COLUMNS, row, strict=True)) for row in top]
    html = env.get_template("report.html.j2").render(
        data=data, findings=findings, charts=_charts(data), generated_at=generated_at,
        summary_fields=SUMMARY_FIELDS)
    path.write_text(html, encoding="utf-8")


def _charts(data: ReportData) -> dict[str, Any]:
    """Bar lengths in percent, computed here so the template stays plain."""
    per_currency = []
    for row in data.summary:
        collected, outstanding = row.amounts["collected"], row.amounts["outstanding"]
        top = max(collected, outstanding) or Decimal(1)
        per_currency.append({"currency": row.currency, "collected": collected,
                             "outstanding": outstanding,
                             "collected_pct": int(collected * 100 / top),
                             "outstanding_pct": int(outstanding * 100 / top)})
    aging_counts = {label: 0 for label in data.bucket_labels}
    for a in data.aging:
        aging_counts[a.bucket] += a.count
    most = max(aging_counts.values(), default=0) or 1
    aging = [{"label": k, "count": v, "pct": v * 100 // most} for k, v in aging_counts.items()]
    most_findings = max((c.count for c in data.by_category), default=0) or 1
    findings = [{"category": c.category, "severity": c.severity, "count": c.count,
                 "pct": c.count * 100 // most_findings} for c in data.by_category]
    return {"currency": per_currency, "aging": aging, "findings": findings}


# --- placing files -----------------------------------------------------------------------
@contextlib.contextmanager
def staging_folder(out: Path) -> Iterator[Path]:
    """Write into a temporary folder beside `out`; move each file into place at the end."""
    temp = Path(tempfile.mkdtemp(prefix=".report-", dir=out.parent))
    try:
        yield temp
        for item in sorted(temp.iterdir()):
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def write_report(warehouse: Warehouse, settings: ReportSettings, *, since: datetime,
                 until: datetime, out: Path, formats: tuple[str, ...], now: datetime,
                 max_rows: int = EXCEL_MAX_ROWS, out_named: str = "the report folder"
                 ) -> ReportData:
    """Gather the figures once and write every requested format into `out` (`out_named`:
    what the user called it, for a message when it cannot be made)."""
    ensure_folder(out, out_named)
    data = gather(warehouse, settings, since, until, now)
    with staging_folder(out) as temp, ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn")) as pool:
        findings_csv = None
        if "csv" in formats:
            write_summary_csv(data, temp / "summary.csv")
            # the other core writes findings.csv while this one writes the workbook
            findings_csv = pool.submit(_findings_csv_apart, warehouse.path, since, until,
                                       data.run_id, data.previous_run_id,
                                       temp / "findings.csv")
        if "json" in formats:
            write_json(data, temp / "report.json")
        if "xlsx" in formats:
            write_xlsx(data, iter_findings(warehouse), temp / "report.xlsx", max_rows)
        if "html" in formats:
            top = next(iter_findings_limited(warehouse, settings.top_findings), [])
            write_html(data, top, temp / "report.html", now)
        if findings_csv is not None:
            findings_csv.result()
    return data


def _findings_csv_apart(db_path: Path, since: datetime, until: datetime, run_id: int | None,
                        previous_run_id: int | None, path: Path) -> int:
    """findings.csv from a second read-only connection, in a process of its own."""
    with Warehouse.open(db_path, read_only=True, wait_seconds=60) as warehouse:
        select_findings(warehouse, since, until, run_id, previous_run_id)
        return write_findings_csv(iter_findings(warehouse), path)


def iter_findings_limited(warehouse: Warehouse, limit: int) -> Iterator[list[tuple[Any, ...]]]:
    """The first `limit` findings in report order, as one batch."""
    for batch in iter_findings(warehouse):
        yield batch[:limit]
        return

"""report.xlsx: a Summary sheet and Findings sheets, every cell typed.

An amount is a number cell (sums work) formatted with as many decimals as it has, at least
its currency's, thousands grouped, in a column wide enough for that text. Excel holds a
number as a double, 15 significant digits: an amount with more (18-decimal ETH) also has its
exact text in the column beside it. Times are date cells in the report's zone; text from
outside is a string cell, never a formula.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter
from xlsxwriter.exceptions import FileCreateError

from pik_recon.categories import finding_state
from pik_recon.report.display import FLOAT_DIGITS, exact, shape
from pik_recon.report.figures import (
    ALL_FIELDS,
    FINDING_COLUMNS,
    TRANSACTION_COLUMNS,
    AgingRow,
    ReportData,
)

EXCEL_MAX_ROWS = 1_048_576
DATE_FORMAT = "yyyy-mm-dd hh:mm"
DATE_WIDTH = 17


class Sheet:
    """A worksheet that remembers how wide each column's text is, to set it at the end."""

    def __init__(self, book: Book, name: str) -> None:
        self.book, self.ws = book, book.xlsx.add_worksheet(name)
        self.widths: dict[int, int] = {}

    def _fit(self, col: int, width: int) -> None:
        if width > self.widths.get(col, 0):
            self.widths[col] = width

    def text(self, row: int, col: int, value: Any, style: Any = None) -> None:
        if value is None or value == "":
            if style is not None:  # a blank cell without a style is no cell at all
                self.ws.write_blank(row, col, None, style)
            return
        text = str(value)
        self.ws.write_string(row, col, text, style)
        self._fit(col, len(text))

    def number(self, row: int, col: int, value: int) -> None:
        self.ws.write_number(row, col, value)
        self._fit(col, len(str(value)))

    def amount(self, row: int, col: int, value: Decimal | None, currency: str | None) -> None:
        """The amount as a number at `col`, and at `col + 1` its exact text when a number
        cell cannot hold every digit of it."""
        if value is None:
            return
        places, digits = shape(value, currency)
        self.ws.write_number(row, col, value, self.book.amount_format(places))
        whole = len(str(abs(int(value))))  # as grouped() writes it: 1,234,567.50
        self._fit(col, (value < 0) + whole + (whole - 1) // 3 + (places + 1 if places else 0))
        if digits > FLOAT_DIGITS:
            self.text(row, col + 1, exact(value, currency))

    def moment(self, row: int, col: int, value: datetime | None) -> None:
        if value is None:
            self.ws.write_blank(row, col, None)
            return
        local = value.astimezone(self.book.zone).replace(tzinfo=None)
        self.ws.write_datetime(row, col, local, self.book.date)
        self._fit(col, DATE_WIDTH)

    def header(self, row: int, labels: list[str]) -> None:
        for col, label in enumerate(labels):
            self.ws.write_string(row, col, label, self.book.header)
            self._fit(col, len(label) + 2)  # room for the filter button

    def finish(self) -> None:
        for col, width in self.widths.items():
            self.ws.set_column(col, col, min(width + 2, 120))


class Book:
    def __init__(self, path: Path, zone: ZoneInfo) -> None:
        # its row files beside the workbook (the report's staging folder), not in /tmp
        self.xlsx = xlsxwriter.Workbook(str(path), {"constant_memory": True,
                                                     "tmpdir": str(path.parent),
                                                     "strings_to_formulas": False,
                                                     "strings_to_numbers": False})
        self.zone = zone
        self.header = self.xlsx.add_format({"bold": True, "bg_color": "#E8EEF4", "border": 1})
        self.date = self.xlsx.add_format({"num_format": DATE_FORMAT})
        self.bold = self.xlsx.add_format({"bold": True})
        self.alert = self.xlsx.add_format({"bold": True, "font_color": "#A3271B"})
        self._amounts: dict[int, Any] = {}

    def amount_format(self, places: int) -> Any:
        if places not in self._amounts:
            pattern = "#,##0" + ("." + "0" * places if places else "")
            self._amounts[places] = self.xlsx.add_format({"num_format": pattern})
        return self._amounts[places]

    def sheet(self, name: str) -> Sheet:
        return Sheet(self, name)


Batches = Iterator[list[tuple[Any, ...]]]


def write_xlsx(data: ReportData, batches: Batches, path: Path,
               max_rows: int = EXCEL_MAX_ROWS, transactions: Callable[[], Batches] | None = None,
               advance: Callable[[int], None] | None = None, listed: int | None = None
               ) -> int:
    """A Summary sheet, Findings sheets and Transactions sheets (each continued past Excel's
    row limit); `batches` are the first `listed` of the report's findings (every one when
    None), which the Summary tells; `transactions` gives the transactions of the findings
    once they are written (one query at a time on the warehouse); `advance` is told of each
    batch of findings written."""
    book = Book(path, ZoneInfo(data.timezone))
    _summary_sheet(book, data, data.findings_total if listed is None else listed)
    written = _sheets(book, "Findings", FINDINGS_SHEET_COLUMNS, batches, max_rows,
                      _finding_row, advance)
    _sheets(book, "Transactions", TRANSACTIONS_SHEET_COLUMNS,
            transactions() if transactions else iter(()), max_rows, _transaction_row)
    try:
        book.xlsx.close()
    except FileCreateError as exc:  # the OSError, for the file boundary
        raise exc.args[0] from None
    return written


def _summary_sheet(book: Book, data: ReportData, listed: int) -> None:
    sheet = book.sheet("Summary")
    r = 0
    warning = data.freshness_warning(book.zone)
    if warning:
        sheet.ws.write_string(r, 0, warning, book.alert)
        r += 2
    sheet.ws.write_string(r, 0, data.headline(), book.bold)
    r += 2
    if listed < data.findings_total:
        sheet.ws.write_string(r, 0, f"This workbook lists the first {listed:,} of the "
                              f"{data.findings_total:,} findings (open first, then critical "
                              "first); findings.csv lists every one.", book.alert)
        r += 2
    labels = (["account"] if data.several else []) + ["currency"]
    for name in ALL_FIELDS:
        label = name.replace("_", " " if name == "in_transit" else "/")
        labels += [f"{label} count", f"{label} amount", f"{label} amount (exact)"]
    sheet.header(r, labels)
    first = 2 if data.several else 1  # the first figure's column
    sheet.ws.freeze_panes(r + 1, first)
    for row in data.summary + (data.totals() if data.several else []):
        r += 1
        if data.several:
            sheet.text(r, 0, row.account or "all accounts", None if row.account else book.bold)
        sheet.text(r, first - 1, row.currency)
        for i, name in enumerate(ALL_FIELDS):
            amount = row.amounts[name]
            sheet.number(r, first + 3 * i, row.counts[name])
            sheet.amount(r, first + 1 + 3 * i, amount, row.currency)
    r = _aging_block(sheet, r + 2, data, "aging (unpaid)", data.aging)
    r = _aging_block(sheet, r + 2, data, "in transit (confirmed, not settled)",
                     data.transit_aging)
    r = _stakes_block(book, sheet, r + 2, data)
    r += 2
    sheet.header(r, ["category", "severity", "findings", "open", "acknowledged", "new",
                     "resolved"])
    for c in data.by_category:
        r += 1
        sheet.text(r, 0, c.category)
        sheet.text(r, 1, c.severity)
        for col, value in enumerate((c.count, c.open, c.acknowledged, c.new, c.resolved), 2):
            sheet.number(r, col, value)
    r += 2
    for label, value in (("period from", data.since), ("period until", data.until),
                         ("time zone", data.timezone)):
        r = _fact(book, sheet, r, label, value)
    for a in data.accounts:
        whose = f" ({a.account})" if data.several else ""
        fresh = a.freshness
        for label, value in (("last sync", fresh.last_sync_at),
                             ("last sync verdict", fresh.verdict or "no sync yet"),
                             ("data is stale", "yes" if fresh.stale else "no"),
                             ("a later sync did not finish",
                              fresh.failed_since[1] if fresh.failed_since else "no"),
                             ("reconciliation run", a.run_id)):
            r = _fact(book, sheet, r, label + whose, value)
    sheet.finish()


def _aging_block(sheet: Sheet, r: int, data: ReportData, title: str, rows: list[AgingRow]
                 ) -> int:
    """Amounts by age per currency (and account); returns the last row written."""
    first = 2 if data.several else 1
    sheet.header(r, (["account"] if data.several else [])
                 + [title, "bucket", "count", "amount", "amount (exact)"])
    for a in rows:
        r += 1
        if data.several:
            sheet.text(r, 0, a.account)
        sheet.text(r, first - 1, a.currency)
        sheet.text(r, first, a.bucket)
        sheet.number(r, first + 1, a.count)
        sheet.amount(r, first + 2, a.amount, a.currency)
    return r


def _stakes_block(book: Book, sheet: Sheet, r: int, data: ReportData) -> int:
    """The money at stake in the open findings of the last runs, whatever the period: per
    account, category, severity and currency. Returns the last row written."""
    whose = ["account"] if data.several else []
    sheet.ws.write_string(r, 0, "Money at stake: the open findings of the last "
                          "reconciliation, whatever the period", book.bold)
    r += 1
    sheet.header(r, [*whose, "category", "severity", "currency", "open", "at stake",
                     "at stake (exact)"])
    for g in data.stakes_by_category():
        r += 1
        if data.several:
            sheet.text(r, 0, g.account)
        col = len(whose)
        sheet.text(r, col, g.category)
        sheet.text(r, col + 1, g.severity)
        sheet.text(r, col + 2, g.currency or "none")
        sheet.number(r, col + 3, g.count)
        if g.currency is not None:
            sheet.amount(r, col + 4, g.amount, g.currency)
    return r


def _fact(book: Book, sheet: Sheet, r: int, label: str, value: object) -> int:
    """One labelled fact of the summary sheet at row r; returns the next row."""
    sheet.text(r, 0, label, book.bold)
    if isinstance(value, datetime):
        sheet.moment(r, 1, value)
    elif isinstance(value, int):
        sheet.number(r, 1, value)
    else:
        sheet.text(r, 1, str(value) if value is not None else "none yet")
    return r + 1


FINDINGS_SHEET_COLUMNS = (
    "account", "finding id", "severity", "category", "state", "order", "link", "links",
    "order amount", "order amount (exact)", "order currency", "link amount",
    "link amount (exact)", "link currency", "received", "received (exact)", "transactions",
    "difference", "difference (exact)",
    "at stake", "at stake (exact)", "at stake currency",
    "order status", "link status", "age (days)", "order created", "link paid",
    "matched by", "description", "new", "in period", "note", "acknowledged by",
    "acknowledged at")


TRANSACTIONS_SHEET_COLUMNS = (
    "account", "finding id", "category", "link", "transaction", "status", "amount",
    "amount (exact)", "currency", "created", "confirmed", "settled", "tx hash")


def _sheets(book: Book, name: str, columns: tuple[str, ...], batches: Batches,
            max_rows: int, write_row: Callable[[Sheet, int, tuple[Any, ...]], None],
            advance: Callable[[int], None] | None = None) -> int:
    """Sheets `name`, `name 2`, ... of `columns`, a row per row of `batches` (`advance` told
    of each batch written)."""
    sheet, row_no, sheets, written = None, 0, 0, 0
    for batch in batches:
        for row in batch:
            if sheet is None or row_no >= max_rows:
                if sheet is not None:
                    _close_sheet(sheet, row_no, columns)
                sheets += 1
                sheet = book.sheet(name if sheets == 1 else f"{name} {sheets}")
                sheet.header(0, list(columns))
                sheet.ws.freeze_panes(1, 0)
                row_no = 1
            write_row(sheet, row_no, row)
            row_no += 1
            written += 1
        if advance is not None:
            advance(len(batch))
    if sheet is None:
        sheet = book.sheet(name)
        sheet.header(0, list(columns))
        row_no = 1
    _close_sheet(sheet, row_no, columns)
    return written


def _close_sheet(sheet: Sheet, rows: int, columns: tuple[str, ...]) -> None:
    sheet.ws.autofilter(0, 0, max(rows - 1, 1), len(columns) - 1)
    sheet.finish()


def _transaction_row(sheet: Sheet, r: int, row: tuple[Any, ...]) -> None:
    t = dict(zip(TRANSACTION_COLUMNS, row, strict=True))
    for col, name in enumerate(("account", "finding_key", "category", "link_id",
                                "transaction_id", "status")):
        sheet.text(r, col, t[name])
    sheet.amount(r, 6, t["amount"], t["currency"])
    sheet.text(r, 8, t["currency"])
    for col, name in enumerate(("created_at", "confirmed_at", "settled_at"), 9):
        sheet.moment(r, col, t[name])
    sheet.text(r, 12, t["tx_hash"])


def _finding_row(sheet: Sheet, r: int, row: tuple[Any, ...]) -> None:
    f = dict(zip(FINDING_COLUMNS, row, strict=True))
    currency = f["order_currency"] or f["link_currency"]
    acked = bool(f["acknowledged"])
    text, amount, moment = sheet.text, sheet.amount, sheet.moment
    for col, name in enumerate(("account", "finding_key", "severity", "category")):
        text(r, col, f[name])
    text(r, 4, finding_state(acked, f["ack_outdated"]))
    text(r, 5, f["order_id"])
    text(r, 6, f["link_id"])
    text(r, 7, f["link_ids"])
    amount(r, 8, f["order_amount"], f["order_currency"])  # and its exact text at 9
    text(r, 10, f["order_currency"])
    amount(r, 11, f["link_amount"], f["link_currency"])
    text(r, 13, f["link_currency"])
    amount(r, 14, f["received_amount"], f["link_currency"])
    text(r, 16, (f["transaction_ids"] or "").replace(";", " "))
    amount(r, 17, f["difference"], currency)
    amount(r, 19, f["at_stake"], f["at_stake_currency"])
    text(r, 21, f["at_stake_currency"])
    text(r, 22, f["order_status"])
    text(r, 23, f["link_status"])
    if f["age_days"] is not None:
        sheet.number(r, 24, f["age_days"])
    moment(r, 25, f["order_created_at"])
    moment(r, 26, f["link_paid_at"])
    text(r, 27, f["match_method"])
    text(r, 28, f["description"])
    text(r, 29, "yes" if f["is_new"] else "no")
    text(r, 30, "yes" if f["in_period"] else "no")
    if acked:
        text(r, 31, f["ack_note"])
        text(r, 32, f["ack_by"])
        moment(r, 33, f["ack_at"])

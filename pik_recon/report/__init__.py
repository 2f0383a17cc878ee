"""`pik-recon report`: what finance opens each morning, read from the warehouse alone.

    figures.py    the figures, gathered once (SQL in sql/queries/report_*.sql)
    display.py    amounts and times as readers see them
    csv_files.py  summary.csv and findings.csv
    workbook.py   report.xlsx
    page.py       report.html
    json_file.py  report.json

Files are written into a temporary folder inside the target and moved into place one by
one, so a reader never sees a half-written file; the file system's errors name the folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pik_recon.config import ReportSettings
from pik_recon.paths import ensure_folder, writing
from pik_recon.reconcile import require_synced
from pik_recon.report.csv_files import write_findings_csv, write_summary_csv
from pik_recon.report.figures import (
    ReportData,
    iter_findings,
    iter_transactions,
    read_figures,
)
from pik_recon.report.json_file import write_json
from pik_recon.report.page import write_html
from pik_recon.report.workbook import EXCEL_MAX_ROWS, write_xlsx
from pik_recon.warehouse import Warehouse

__all__ = ["EXCEL_MAX_ROWS", "ReportData", "Steps", "write_report"]

# What a report tells of its progress: each step starts with its name and how many units
# (rows) it has, and gets the function to call with each batch of units done.
Steps = Callable[[str, int], Callable[[int], None]]


def _quiet(name: str, total: int) -> Callable[[int], None]:
    return lambda done: None


@contextlib.contextmanager
def staging_folder(out: Path) -> Iterator[Path]:
    """Write into a temporary folder inside `out` (the one folder that must be writable);
    move each file into place at the end."""
    temp = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    try:
        yield temp
        for item in sorted(temp.iterdir()):
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def write_report(warehouse: Warehouse, settings: ReportSettings, *, accounts: list[str],
                 since: datetime, until: datetime, out: Path, formats: tuple[str, ...],
                 now: datetime, max_rows: int = EXCEL_MAX_ROWS,
                 out_named: str = "the report folder", steps: Steps | None = None
                 ) -> ReportData:
    """Gather the figures of `accounts` once and write every requested format into `out`
    (`out_named`: what the user called it, for a message when it cannot be written), telling
    `steps` how far it is. Refused, nothing written, for an account no sync has finished
    for."""
    for account in accounts:
        require_synced(warehouse, account, "the report would show none of PIK's links")
    ensure_folder(out, out_named)
    steps = steps or _quiet
    done = steps("figures", 1)
    data = read_figures(warehouse, settings, accounts, since, until, now)
    done(1)
    with writing(out, out_named), staging_folder(out) as temp:
        if "csv" in formats:
            write_summary_csv(data, temp / "summary.csv")
            done = steps("findings.csv", data.findings_total)
            write_findings_csv(warehouse, data.timezone, temp / "findings.csv", out, out_named)
            done(data.findings_total)
        if "json" in formats:
            done = steps("report.json", 1)
            write_json(data, temp / "report.json")
            done(1)
        if "xlsx" in formats:
            listed = min(data.findings_total, settings.xlsx_findings)
            write_xlsx(data, iter_findings(warehouse, listed), temp / "report.xlsx",
                       max_rows, lambda: iter_transactions(warehouse, listed),
                       steps("report.xlsx", listed), listed)
        if "html" in formats:
            done = steps("report.html", 1)
            top = next(_first_findings(warehouse, settings.top_findings), [])
            write_html(data, top, _transactions_of(warehouse, top), temp / "report.html", now)
            done(1)
    return data


def _transactions_of(warehouse: Warehouse, top: list[tuple[Any, ...]]
                     ) -> list[tuple[Any, ...]]:
    """The transactions of the findings `top` (the first of the report order)."""
    return [row for batch in iter_transactions(warehouse, len(top)) for row in batch]


def _first_findings(warehouse: Warehouse, limit: int) -> Iterator[list[tuple[Any, ...]]]:
    """The first `limit` findings in report order, as one batch."""
    for batch in iter_findings(warehouse):
        yield batch[:limit]
        return

"""summary.csv and findings.csv: exact decimals, text neutralised against formulas.

findings.csv is also what finance edits: a `note` filled in on a row, and the file given to
`pik-recon findings ack --from`, acknowledges that finding.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

from pik_recon.categories import SEVERITIES
from pik_recon.money import CURRENCY_DECIMALS
from pik_recon.report.display import DISPLAY_DECIMALS, exact, neutralise
from pik_recon.report.figures import MONEY_FIELDS, SUMMARY_FIELDS, ReportData
from pik_recon.warehouse import Warehouse, query


def write_summary_csv(data: ReportData, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["account", "currency"] + [
            f"{name}_{kind}" for name in (*SUMMARY_FIELDS,
                                          *(f"at_stake_{s}" for s in SEVERITIES),
                                          *MONEY_FIELDS)
            for kind in ("count", "amount")])
        for row in data.summary:
            cells: list[Any] = [row.account, neutralise(row.currency)]
            for name in SUMMARY_FIELDS:
                cells += [row.counts[name], exact(row.amounts[name], row.currency)]
            for severity in SEVERITIES:
                count, amount = row.at_stake.get(severity, (0, Decimal(0)))
                cells += [count, exact(amount, row.currency)]
            for name in MONEY_FIELDS:
                cells += [row.counts[name], exact(row.amounts[name], row.currency)]
            writer.writerow(cells)


def write_findings_csv(warehouse: Warehouse, timezone: str, path: Path, out: Path,
                       out_named: str) -> None:
    """findings.csv, written by DuckDB (sql/queries/report_findings_csv.sql, which names its
    columns) from the findings the report lists, as Python's csv module writes a file: CRLF
    line ends, and quotes only around a value holding a comma, a quote or a line break."""
    warehouse.execute(query("report_csv_macros"))
    places = {**CURRENCY_DECIMALS, **DISPLAY_DECIMALS}
    target = str(path).replace("'", "''")
    warehouse.copy(f"COPY ({query('report_findings_csv')}) TO '{target}' "
                   "(HEADER, NEW_LINE '\\r\\n', COMMENT '')", {
                       "codes": list(places), "places": list(places.values()),
                       "zone": timezone}, out, out_named)

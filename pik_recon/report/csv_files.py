"""summary.csv and findings.csv: exact decimals, text neutralised against formulas.

findings.csv is also what finance edits: a `note` filled in on a row, and the file given to
`pik-recon findings ack --from`, acknowledges that finding.
"""

from __future__ import annotations

import csv
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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
    first, last = warehouse.fetchone(
        "SELECT min(m), max(m) FROM (SELECT unnest([order_created_at, link_paid_at, ack_at]) "
        "AS m FROM report_findings)") or (None, None)
    spans = zone_offsets(ZoneInfo(timezone), first, last)
    # a CASE over the zone's few changes, not a join: it keeps the rows in report order
    changes = " ".join(f"WHEN moment < TIMESTAMPTZ '{since.isoformat()}' THEN {before}"
                       for (_, before), (since, _) in itertools.pairwise(spans))
    body = f"CASE {changes} ELSE {spans[-1][1]} END" if changes else str(spans[-1][1])
    warehouse.execute(f"CREATE OR REPLACE TEMP MACRO csv_zone_offset(moment) AS {body}")
    places = {**CURRENCY_DECIMALS, **DISPLAY_DECIMALS}
    target = str(path).replace("'", "''")
    warehouse.copy(f"COPY ({query('report_findings_csv')}) TO '{target}' "
                   "(HEADER, NEW_LINE '\\r\\n', COMMENT '')", {
                       "codes": list(places), "places": list(places.values())}, out, out_named)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def zone_offsets(zone: ZoneInfo, first: datetime | None, last: datetime | None
                 ) -> list[tuple[datetime, int]]:
    """The zone's UTC offset in seconds from each instant on, over the moments `first` to
    `last`: a row where it changes, found to the second. The zone's rules are Python's
    (zoneinfo), as the workbook, the page and the JSON read them, never DuckDB's own."""

    def offset(second: int) -> int:
        moment = EPOCH + second * SECOND
        return moment.astimezone(zone).utcoffset() // SECOND  # type: ignore[operator]

    if first is None or last is None:
        return [(datetime.min.replace(tzinfo=UTC), 0)]
    start, end = (first - EPOCH) // SECOND, (last - EPOCH) // SECOND + 1
    spans = [(datetime.min.replace(tzinfo=UTC), offset(start))]
    day = 86_400
    for low in range(start, end, day):
        high = min(low + day, end)
        while offset(low) != offset(high):  # the first second of the next offset
            a, b = low, high
            while b - a > 1:
                middle = (a + b) // 2
                a, b = (middle, b) if offset(middle) == offset(a) else (a, middle)
            spans.append((EPOCH + b * SECOND, offset(b)))
            low = b
    return spans

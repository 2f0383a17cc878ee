"""summary.csv and findings.csv: exact decimals, text neutralised against formulas.

findings.csv is also what finance edits: a `note` filled in on a row, and the file given to
`pik-recon findings ack --from`, acknowledges that finding.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pik_recon.categories import SEVERITIES, finding_state
from pik_recon.report.display import exact, neutralise
from pik_recon.report.figures import FINDING_COLUMNS, MONEY_FIELDS, SUMMARY_FIELDS, ReportData

FINDINGS_CSV_COLUMNS = (
    "account", "finding_id", "run_id", "category", "severity", "state", "order_id", "link_id",
    "link_ids", "order_amount", "order_currency", "link_amount", "link_currency",
    "difference", "at_stake", "at_stake_currency", "order_status", "link_status", "age_days",
    "order_created_at", "link_paid_at", "match_method", "description", "new", "in_period",
    "note", "acknowledged_by", "acknowledged_at", "received_amount", "transaction_ids")


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


def finding_cells(row: tuple[Any, ...], zone: ZoneInfo) -> list[Any]:
    """A finding as CSV cells: exact amounts, times in the report's zone, neutralised text."""
    f = dict(zip(FINDING_COLUMNS, row, strict=True))
    currency = f["order_currency"] or f["link_currency"]

    def moment(value: Any) -> str:
        return value.astimezone(zone).isoformat(timespec="seconds") if value else ""

    def text(value: Any) -> Any:
        return "" if value is None else neutralise(value)

    return [f["account"], f["finding_key"], f["run_id"], f["category"], f["severity"],
            finding_state(f["acknowledged"], f["ack_outdated"]), text(f["order_id"]),
            f["link_id"] or "", f["link_ids"] or "", exact(f["order_amount"], currency),
            text(f["order_currency"]), exact(f["link_amount"], f["link_currency"]),
            text(f["link_currency"]), exact(f["difference"], currency),
            exact(f["at_stake"], f["at_stake_currency"]), text(f["at_stake_currency"]),
            f["order_status"] or "",
            f["link_status"] or "", "" if f["age_days"] is None else f["age_days"],
            moment(f["order_created_at"]), moment(f["link_paid_at"]), f["match_method"] or "",
            text(f["description"]), "yes" if f["is_new"] else "no",
            "yes" if f["in_period"] else "no",
            text(f["ack_note"]) if f["acknowledged"] else "",
            text(f["ack_by"]) if f["acknowledged"] else "",
            moment(f["ack_at"]) if f["acknowledged"] else "",
            exact(f["received_amount"], f["link_currency"]), f["transaction_ids"] or ""]


def write_findings_csv(batches: Iterator[list[tuple[Any, ...]]], path: Path,
                       zone: ZoneInfo) -> int:
    written = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(FINDINGS_CSV_COLUMNS)
        for batch in batches:
            writer.writerows(finding_cells(row, zone) for row in batch)
            written += len(batch)
    return written

"""`pik-recon report`: what finance opens each morning, read from the warehouse alone.

This module gathers the figures (SQL in sql/queries/report_*.sql); reportfiles.py writes
them as CSV, XLSX, HTML and JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from pik_recon.config import ReportSettings
from pik_recon.reconcile import CATEGORIES, SEVERITIES
from pik_recon.warehouse import Warehouse, query

SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
CATEGORY_RANK = {c: i for i, (c, _) in enumerate(CATEGORIES)}
FINDING_COLUMNS = ("run_id", "category", "severity", "order_id", "link_id", "link_ids",
                   "order_amount", "order_currency", "link_amount", "link_currency",
                   "difference", "order_status", "link_status", "age_days", "match_method",
                   "description", "is_new")
SUMMARY_FIELDS = ("invoiced", "collected", "outstanding", "expired_lost", "discrepancies")


@dataclass(frozen=True)
class CurrencySummary:
    currency: str
    counts: dict[str, int]
    amounts: dict[str, Decimal]


@dataclass(frozen=True)
class AgingRow:
    currency: str
    bucket: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class CategoryCount:
    category: str
    severity: str
    count: int
    new: int
    resolved: int


@dataclass(frozen=True)
class Freshness:
    last_sync_at: datetime | None
    verified: bool | None
    verdict: str | None
    stale: bool
    stale_after_hours: int


@dataclass
class ReportData:
    since: datetime
    until: datetime
    timezone: str
    freshness: Freshness
    run_id: int | None
    run_as_of: datetime | None
    previous_run_id: int | None
    summary: list[CurrencySummary] = field(default_factory=list)
    aging: list[AgingRow] = field(default_factory=list)
    by_category: list[CategoryCount] = field(default_factory=list)
    findings_total: int = 0
    bucket_labels: list[str] = field(default_factory=list)

    def worst_severity(self) -> str | None:
        present = [c.severity for c in self.by_category if c.count]
        return min(present, key=SEVERITY_RANK.__getitem__) if present else None


def bucket_table(buckets: tuple[int, ...]) -> pd.DataFrame:
    """(1, 7, 30) -> 0-1, 2-7, 8-30, 31+ days."""
    rows, low = [], 0
    for position, high in enumerate(buckets):
        rows.append((position, f"{low}-{high} days", low, high))
        low = high + 1
    rows.append((len(buckets), f"{low}+ days", low, 10**9))
    return pd.DataFrame(rows, columns=["position", "label", "low", "high"])


def _freshness(warehouse: Warehouse, settings: ReportSettings, now: datetime) -> Freshness:
    row = warehouse.fetchone("SELECT finished_at, verified, verdict FROM sync_runs "
                             "WHERE state = 'finished' ORDER BY id DESC LIMIT 1")
    if row is None:
        return Freshness(None, None, None, True, settings.stale_after_hours)
    stale = now - row[0] > timedelta(hours=settings.stale_after_hours)
    return Freshness(row[0], row[1], row[2], stale, settings.stale_after_hours)


def select_findings(warehouse: Warehouse, since: datetime, until: datetime,
                    run_id: int | None, previous: int | None) -> None:
    """The temp table report_findings: the latest run's findings of the period."""
    warehouse.execute(query("report_findings"),
                      {"since": since, "until": until,
                       "run_id": run_id if run_id is not None else -1,
                       "prev_run_id": previous if previous is not None else -1})


def gather(warehouse: Warehouse, settings: ReportSettings, since: datetime, until: datetime,
           now: datetime) -> ReportData:
    """Every figure of the report, read in one read-only session."""
    runs = warehouse.fetchall("SELECT id, as_of FROM reconcile_runs WHERE state = 'finished' "
                              "ORDER BY id DESC LIMIT 2")
    run_id, as_of = runs[0] if runs else (None, None)
    previous = runs[1][0] if len(runs) > 1 else None
    data = ReportData(since, until, settings.timezone, _freshness(warehouse, settings, now),
                      run_id, as_of, previous)
    period = {"since": since, "until": until}
    select_findings(warehouse, since, until, run_id, previous)
    for row in warehouse.fetchall(query("report_summary"), period):
        counts = {name: int(row[1 + 2 * i]) for i, name in enumerate(SUMMARY_FIELDS)}
        amounts = {name: row[2 + 2 * i] for i, name in enumerate(SUMMARY_FIELDS)}
        data.summary.append(CurrencySummary(row[0], counts, amounts))
    buckets = bucket_table(settings.aging_buckets)
    data.bucket_labels = list(buckets["label"])
    with warehouse.staged("aging_buckets", buckets):
        data.aging = [AgingRow(c, label, int(n), amount) for c, _, label, n, amount
                      in warehouse.fetchall(query("report_aging"), period)]
    data.by_category = _by_category(warehouse, run_id, previous, period)
    data.findings_total = sum(c.count for c in data.by_category)
    return data


def _by_category(warehouse: Warehouse, run_id: int | None, previous: int | None,
                 period: dict[str, Any]) -> list[CategoryCount]:
    counts = {c: (int(n), int(new)) for c, n, new in warehouse.fetchall(
        "SELECT category, count(*), count(*) FILTER (WHERE is_new) FROM report_findings "
        "GROUP BY category")}
    resolved: dict[str, int] = {}
    if run_id is not None and previous is not None:
        resolved = {c: int(n) for c, n in warehouse.fetchall(
            query("report_resolved"), {**period, "run_id": run_id, "prev_run_id": previous})}
    return [CategoryCount(category, severity, *counts.get(category, (0, 0)),
                          resolved.get(category, 0)) for category, severity in CATEGORIES]


def iter_findings(warehouse: Warehouse) -> Iterator[list[tuple[Any, ...]]]:
    """The period's findings in report order (critical first), a batch at a time."""
    return warehouse.batches(
        "SELECT " + ", ".join(FINDING_COLUMNS) + " FROM report_findings ORDER BY "
        "CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, "
        "array_position(?, category), order_id NULLS LAST, link_id",
        [[c for c, _ in CATEGORIES]])

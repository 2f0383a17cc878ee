"""report.json: the figures for machines, keys stable within `report_version`."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from pik_recon.categories import SEVERITIES
from pik_recon.report.display import exact
from pik_recon.report.figures import (
    ALL_FIELDS,
    MONEY_FIELDS,
    SUMMARY_FIELDS,
    AgingRow,
    CurrencySummary,
    Freshness,
    ReportData,
)

JSON_VERSION = 1


def _freshness_fields(fresh: Freshness) -> dict[str, Any]:
    return {"last_sync_at": fresh.last_sync_at.isoformat() if fresh.last_sync_at else None,
            "verified": fresh.verified, "verdict": fresh.verdict, "stale": fresh.stale,
            "stale_after_hours": fresh.stale_after_hours,
            "last_failed_sync": None if fresh.failed_since is None else {
                "started_at": fresh.failed_since[0].isoformat(), "why": fresh.failed_since[1]}}


def _summary(row: CurrencySummary) -> dict[str, Any]:
    at_stake = {}
    for severity in SEVERITIES:
        count, amount = row.at_stake.get(severity, (0, Decimal(0)))
        at_stake[severity] = {"count": count, "amount": exact(amount, row.currency)}
    figures = {name: {"count": row.counts[name], "amount": exact(row.amounts[name],
                                                                 row.currency)}
               for name in ALL_FIELDS}
    return {"currency": row.currency, **{n: figures[n] for n in SUMMARY_FIELDS},
            "at_stake": at_stake, **{n: figures[n] for n in MONEY_FIELDS}}


def _aging(rows: list[AgingRow]) -> list[dict[str, Any]]:
    return [{"account": a.account, "currency": a.currency, "bucket": a.bucket,
             "count": a.count, "amount": exact(a.amount, a.currency)} for a in rows]


def _attention(data: ReportData) -> dict[str, Any]:
    attention = data.attention
    return {"runs": [{"account": a, "run_id": r} for a, r in attention.runs],
            **{s: attention.count(s) for s in SEVERITIES}, "new": attention.new(),
            "unpriced": attention.unpriced(SEVERITIES),
            "by_category": [
                {"account": g.account, "category": g.category, "severity": g.severity,
                 "currency": g.currency, "open": g.count, "new": g.new,
                 "amount": exact(g.amount, g.currency) if g.currency is not None else None,
                 "unpriced": g.unpriced} for g in data.stakes_by_category()]}


def report_json(data: ReportData) -> dict[str, Any]:
    """The machine-readable report; its keys are documented in the README and stable
    (keys are added, never changed, within a version). `freshness` and `reconcile_run` are
    those of the first account; `accounts` has each."""
    first = data.accounts[0]
    return {
        "report_version": JSON_VERSION,
        "period": {"since": data.since.isoformat(), "until": data.until.isoformat(),
                   "timezone": data.timezone},
        "freshness": _freshness_fields(first.freshness),
        "reconcile_run": {"id": first.run_id, "previous_id": first.previous_run_id,
                          "as_of": first.run_as_of.isoformat() if first.run_as_of else None},
        "accounts": [{"account": a.account, "freshness": _freshness_fields(a.freshness),
                      "reconcile_run": {"id": a.run_id, "previous_id": a.previous_run_id,
                                        "as_of": a.run_as_of.isoformat() if a.run_as_of
                                        else None}} for a in data.accounts],
        "summary": [{"account": row.account, **_summary(row)} for row in data.summary],
        "totals": [_summary(row) for row in data.totals()],
        "aging": _aging(data.aging),
        "findings": {"total": data.findings_total, "open": data.findings_total
                     - data.acknowledged_total, "acknowledged": data.acknowledged_total,
                     "new_open": data.open_new, "by_category": [
                         {"category": c.category, "severity": c.severity, "count": c.count,
                          "open": c.open, "acknowledged": c.acknowledged, "new": c.new,
                          "resolved": c.resolved} for c in data.by_category]},
        "at_stake": [{"currency": s.currency, "critical": s.critical, "warning": s.warning,
                      "amount": exact(s.amount, s.currency),
                      "critical_amount": exact(s.critical_amount, s.currency),
                      "warning_amount": exact(s.warning_amount, s.currency)}
                     for s in data.stakes()],
        "attention": _attention(data),
        "in_transit_aging": _aging(data.transit_aging),
    }


def write_json(data: ReportData, path: Path) -> None:
    path.write_text(json.dumps(report_json(data), indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")

"""report.html: one self-contained page (inline CSS, no script, no external URL) that opens
with what needs doing, for a laptop screen and for A4 or Letter paper."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from pik_recon.categories import finding_state
from pik_recon.report.display import grouped, money, when
from pik_recon.report.figures import (
    FINDING_COLUMNS,
    MONEY_FIELDS,
    SUMMARY_FIELDS,
    TRANSACTION_COLUMNS,
    ReportData,
)


def write_html(data: ReportData, top: list[tuple[Any, ...]],
               transactions: list[tuple[Any, ...]], path: Path, generated_at: datetime
               ) -> None:
    """report.html: `top` the first findings of the report order, `transactions` theirs."""
    env = Environment(loader=PackageLoader("pik_recon", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    zone = ZoneInfo(data.timezone)
    env.filters["money"] = money
    env.filters["amount_cell"] = amount_cell
    env.filters["when"] = lambda moment: when(moment, zone)
    findings = []
    for row in top:
        finding = dict(zip(FINDING_COLUMNS, row, strict=True))
        finding["state"] = finding_state(finding["acknowledged"], finding["ack_outdated"])
        findings.append(finding)
    html = env.get_template("report.html.j2").render(
        data=data, findings=findings, charts=_charts(data), generated_at=generated_at,
        summary_fields=SUMMARY_FIELDS, money_fields=MONEY_FIELDS,
        transit_table=_by_bucket(data),
        transactions=[dict(zip(TRANSACTION_COLUMNS, row, strict=True))
                      for row in transactions],
        warning=data.freshness_warning(zone),
        summary_rows=data.summary + (data.totals() if data.several else []),
        headline={"critical": data.open_count("critical"),
                  "warning": data.open_count("warning"), "new": data.open_new,
                  "stakes": data.stakes(), "unpriced": data.attention.unpriced(),
                  "outside": data.listed_outside_period},
        stakes_by_category=data.stakes_by_category())
    path.write_text(html, encoding="utf-8")


def amount_cell(value: Decimal | None, currency: str | None) -> Markup:
    """An amount that may break only after its decimal point and between groups of six
    decimals, where the page shows a mark (↩, the stylesheet's hyphenate-character) so it
    still reads as one number, or before its currency; never inside a group."""
    if value is None:
        return Markup("")
    whole, dot, fraction = grouped(value, currency).partition(".")
    groups = [fraction[i:i + 6] for i in range(0, len(fraction), 6)]
    digits = Markup("&shy;").join([whole + dot, *groups])
    return Markup('<span class="n">{}</span> <span class="cur">{}</span>').format(
        digits, currency or "")


def _charts(data: ReportData) -> dict[str, Any]:
    """Bar lengths in percent, computed here so the template stays plain."""
    per_currency = []
    for row in data.totals():
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
    return {"currency": per_currency, "aging": aging, "findings": findings,
            "money": _money_flow(data)}


def _by_bucket(data: ReportData) -> list[dict[str, Any]]:
    """The money in transit as a table: a row per account and currency, a cell per bucket."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for a in data.transit_aging:
        row = rows.setdefault((a.account, a.currency), {"account": a.account,
                                                        "currency": a.currency, "buckets": {}})
        row["buckets"][a.bucket] = a
    return list(rows.values())


def _money_flow(data: ReportData) -> list[dict[str, Any]]:
    """Where the money stands per currency: invoiced, received (what of it settled, what is
    in transit), each as a share of the largest of them."""
    flows = []
    for row in data.totals():
        amounts = {name: row.amounts[name] for name in
                   ("invoiced", "received", "settled", "in_transit")}
        if not any(amounts.values()):
            continue
        top = max(amounts.values())
        flows.append({"currency": row.currency, **amounts,
                      **{f"{name}_pct": (value * 100 / top).quantize(Decimal("0.1"))
                         for name, value in amounts.items()}})
    return flows

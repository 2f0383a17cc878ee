"""`pik-recon report`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from pik_recon.categories import FAIL_ON
from pik_recon.cli.common import AppContext, Output, account_option, exit_with
from pik_recon.config_values import parse_formats
from pik_recon.errors import ConfigError
from pik_recon.whenparse import parse_when

if TYPE_CHECKING:
    from pik_recon.report.figures import CurrencySummary, ReportData
    from pik_recon.usecases.report import ReportOutcome


def _when(value: str, option: str, now: datetime, zone: ZoneInfo) -> datetime:
    try:
        return parse_when(value, now=now, tz=zone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def print_report(out: Output, outcome: ReportOutcome) -> None:
    from pik_recon.report.json_file import report_json

    ((folder, data),) = outcome.reports
    zone = ZoneInfo(data.timezone)
    line = outcome.headline()
    out.result("report", {**report_json(data), "out": str(folder),
                          "exit_code": outcome.exit_code, "summary_line": line})
    if out.json:
        return
    warning = data.freshness_warning(zone)
    if warning:
        out.line(f"warning: {warning}")
    print_figures(out, data)
    _print_attention(out, data)
    out.line(f"reports in {folder}")
    out.line(line)


def print_figures(out: Output, data: ReportData) -> None:
    """The period's figures per currency, and where its money received stands."""
    from pik_recon.report.display import money, when

    zone = ZoneInfo(data.timezone)
    figures = ("invoiced", "collected", "outstanding", "expired/lost", "discrepancies")
    columns = (("account",) if data.several else ()) + ("currency", *figures)
    rows = data.summary + (data.totals() if data.several else [])
    out.table(f"{when(data.since, zone)} – {when(data.until, zone)}", columns,
              [((row.account or "all accounts",) if data.several else ()) + (
                  row.currency, *(f"{row.counts[k]} · {money(row.amounts[k], row.currency)}"
                                  for k in ("invoiced", "collected", "outstanding",
                                            "expired_lost", "discrepancies")))
               for row in rows], right=figures)
    _print_money(out, data, rows)


def _print_money(out: Output, data: ReportData, rows: list[CurrencySummary]) -> None:
    """The money received in the period, what settled, what is in transit (and for how
    long), and the period's under- and over-payments."""
    from pik_recon.report.display import money
    from pik_recon.report.figures import MONEY_FIELDS

    if not any(row.counts[name] for row in rows for name in MONEY_FIELDS):
        return
    labels = tuple(name.replace("_", " ") for name in MONEY_FIELDS)
    out.table("Money received (payments confirmed in the period)",
              (("account",) if data.several else ()) + ("currency", *labels),
              [((row.account or "all accounts",) if data.several else ()) + (
                  row.currency, *(f"{row.counts[k]} · {money(row.amounts[k], row.currency)}"
                                  for k in MONEY_FIELDS))
               for row in rows], right=labels)
    for a in data.transit_aging:
        whose = f"{a.account}: " if data.several else ""
        noun = "payment" if a.count == 1 else "payments"
        out.line(f"in transit {a.bucket}: {whose}{a.count} {noun}, "
                 f"{money(a.amount, a.currency)}")


def _print_attention(out: Output, data: ReportData) -> None:
    """Every open finding of the last reconciliation and the money at stake, whatever the
    period."""
    from pik_recon.report.display import money

    attention = data.attention
    if not attention.runs:
        out.line("no reconciliation has run yet: nothing is known about findings")
        return
    groups = data.stakes_by_category()
    counts: dict[str, int] = {}
    for g in groups:
        counts[g.category] = counts.get(g.category, 0) + g.count
    out.line(f"open findings of the last reconciliation: {sum(counts.values())} ("
             + (", ".join(f"{c} {n}" for c, n in counts.items()) or "none")
             + f"); acknowledged: {data.acknowledged_total}")
    if groups:
        whose = ("account",) if data.several else ()
        out.table("Money at stake in the open findings of the last reconciliation, whatever "
                  "the period", (*whose, "category", "severity", "open", "at stake"),
                  [((g.account,) if data.several else ()) + (
                      g.category, g.severity, g.count,
                      money(g.amount, g.currency) if g.currency else "none")
                   for g in groups], right=("open", "at stake"))
    for stake in data.stakes():
        out.line(f"at stake: {money(stake.amount, stake.currency)} in {stake.critical} "
                 f"critical and {stake.warning} warning findings (critical "
                 f"{money(stake.critical_amount, stake.currency)}, warning "
                 f"{money(stake.warning_amount, stake.currency)})")
    unpriced = attention.unpriced()
    if unpriced:
        out.line(f"warning: the money at stake of {unpriced} findings is not known (a "
                 "reconciliation from before this version); `pik-recon reconcile` prices "
                 "them")


@click.command()
@click.option("--since", required=True, metavar="WHEN", help="Start of the period: "
              "2026-11-01, 2026-11-01T08:00:00+01:00, yesterday, today, 7d, 36h.")
@click.option("--until", metavar="WHEN", help="End of the period (default: now).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder (default: ./reports/<since>_<until>/).")
@click.option("--format", "formats", metavar="LIST", help="Comma-separated: csv,xlsx,html,json "
              "(default from config: all).")
@click.option("--fail-on", type=click.Choice(FAIL_ON),
              default="never", show_default=True,
              help="Exit 1 when the last reconciliation has open findings of this severity "
                   "or worse, whatever the period (acknowledged ones do not count).")
@account_option("Report")
@click.pass_obj
def report(app: AppContext, since: str, until: str | None, out: Path | None,
           formats: str | None, fail_on: str, accounts: tuple[str, ...]) -> None:
    """Write the finance reports for a period, from the warehouse alone (no network).
    Several accounts make one report with a column and totals per account.

    \b
    Example:
      pik-recon report --since 2026-11-01 --until 2026-12-01 --format xlsx,html
      pik-recon report --since yesterday --fail-on critical
      pik-recon report --since 7d --account brand-a
    """
    from pik_recon.cli.progress import StepProgress
    from pik_recon.usecases.report import report as write_reports

    config = app.config()
    now = datetime.now(UTC)
    zone = ZoneInfo(config.report.timezone)
    start = _when(since, "--since", now, zone)
    end = _when(until, "--until", now, zone) if until else now
    if end <= start and until:
        raise click.BadParameter("must be after --since", param_hint="--until")
    if end <= start:
        raise click.BadParameter(
            f"{since!r} is {start:%Y-%m-%d %H:%M:%S %Z}, not before now (the period ends now "
            "when --until is not given); give an earlier --since, such as 7d or yesterday",
            param_hint="--since")
    try:
        chosen = parse_formats(formats) if formats else None
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--format") from None
    with StepProgress(app.interactive) as progress:
        outcome = write_reports(config, accounts, since=start, until=end, out=out,
                                formats=chosen, fail_on=fail_on, now=now, steps=progress.step)
    print_report(app.out, outcome)
    exit_with(outcome)

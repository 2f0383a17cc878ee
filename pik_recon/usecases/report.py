"""Report: the finance reports of a period, from the warehouse alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pik_recon.attention import Attention
from pik_recon.config import Config
from pik_recon.report import ReportData, Steps, write_report
from pik_recon.usecases.common import open_for_reading
from pik_recon.usecases.outcome import Outcome

# A report's figures and files stream; past this DuckDB spills to disk rather than holding
# its working set, so the whole report stays within about 1 GB at 1,000,000 orders.
REPORT_MEMORY_LIMIT = "600MB"

# Where a report goes: one folder for the accounts together, or a folder per account.
Folder = Path | Callable[[str], Path]


@dataclass(frozen=True, kw_only=True)
class ReportOutcome(Outcome):
    """The reports written (one of the accounts together, or one per account), and what
    needs attention in them: every open finding of each account's last reconciliation,
    whatever the period."""

    reports: tuple[tuple[Path, ReportData], ...]

    def counts(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for folder, data in self.reports:
            for account in data.account_names:
                found[account] = {"out": str(folder)}
            found[data.account_names[0]]["findings"] = data.findings_total
        return found


def report_folder(out_dir: str, since: datetime, until: datetime, zone: ZoneInfo) -> Path:
    """The default report folder: out_dir/<since>_<until>, dates in the report's zone."""
    return Path(out_dir) / (f"{since.astimezone(zone):%Y-%m-%d}_"
                            f"{until.astimezone(zone):%Y-%m-%d}")


def report(config: Config, accounts: Sequence[str] = (), *, since: datetime,
           until: datetime, out: Folder | None = None, formats: tuple[str, ...] | None = None,
           fail_on: str = "never", now: datetime | None = None,
           out_named: str = "--out", steps: Steps | None = None) -> ReportOutcome:
    """`pik-recon report`: the reports of the accounts named (all when none is) for the
    period [since, until), into `out` (default `[report] out_dir/<since>_<until>/`); the
    exit code asks for attention when open findings reach `fail_on`; `steps` is told how far
    each report is."""
    names = tuple(c.account for c in config.scoped(accounts))
    now = now or datetime.now(UTC)
    if out is None:
        out = report_folder(config.report.out_dir, since, until,
                            ZoneInfo(config.report.timezone))
        out_named = "[report] out_dir"
    groups = ([([a], out(a)) for a in names] if callable(out) else [(list(names), out)])
    reports = []
    with open_for_reading(config, REPORT_MEMORY_LIMIT) as warehouse:
        for group, folder in groups:
            reports.append((folder, write_report(
                warehouse, config.report, accounts=group, since=since, until=until,
                out=folder, formats=formats or config.report.formats, now=now,
                out_named=out_named, steps=steps)))
    attention = Attention.combined(data.attention for _, data in reports)
    return ReportOutcome(accounts=names, attention=attention, fail_on=fail_on,
                         reports=tuple(reports))

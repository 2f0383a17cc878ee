"""The report's figures, read from the warehouse alone (SQL in sql/queries/report_*.sql)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pik_recon.attention import Attention, OpenFindings, needs_attention
from pik_recon.categories import CATEGORIES, SEVERITIES
from pik_recon.config import ReportSettings
from pik_recon.money import EXACT
from pik_recon.report.display import money, when
from pik_recon.warehouse import Warehouse, query

FINDING_COLUMNS = ("account", "run_id", "finding_key", "category", "severity", "order_id",
                   "link_id", "link_ids", "order_amount", "order_currency", "link_amount",
                   "link_currency", "difference", "order_status", "link_status", "age_days",
                   "order_created_at", "link_paid_at", "match_method", "description",
                   "is_new", "acknowledged", "ack_note", "ack_by", "ack_at", "ack_outdated",
                   "at_stake", "at_stake_currency", "in_period", "received_amount",
                   "transaction_ids")
SUMMARY_FIELDS = ("invoiced", "collected", "outstanding", "expired_lost", "discrepancies")
# the money received (SPEC §6): transactions confirmed in the period, what of it settled and
# what is in transit; the period's underpaid and overpaid links, shortfall and excess
MONEY_FIELDS = ("received", "settled", "in_transit", "underpaid", "overpaid")
ALL_FIELDS = SUMMARY_FIELDS + MONEY_FIELDS
TRANSACTION_COLUMNS = ("account", "finding_key", "category", "link_id", "transaction_id",
                       "status", "amount", "currency", "created_at", "confirmed_at",
                       "settled_at", "tx_hash")
CATEGORY_ORDER = {c: i for i, (c, _) in enumerate(CATEGORIES)}


@dataclass(frozen=True)
class CurrencySummary:
    account: str  # "" for the total of every account in the report
    currency: str
    counts: dict[str, int]
    amounts: dict[str, Decimal]
    # per severity, the open findings of the last run and the money at stake in them
    at_stake: dict[str, tuple[int, Decimal]] = field(default_factory=dict)


@dataclass(frozen=True)
class AgingRow:
    account: str
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
    acknowledged: int = 0

    @property
    def open(self) -> int:
        return self.count - self.acknowledged


@dataclass(frozen=True)
class Stake:
    """One currency's open critical and warning findings and the money at stake in them."""

    currency: str
    critical: int
    warning: int
    critical_amount: Decimal
    warning_amount: Decimal

    @property
    def amount(self) -> Decimal:
        return EXACT.add(self.critical_amount, self.warning_amount)


@dataclass(frozen=True)
class Freshness:
    last_sync_at: datetime | None
    verified: bool | None
    verdict: str | None
    stale: bool
    stale_after_hours: int
    # a links sync begun after the last finished one that failed or was interrupted:
    # when it began, and why
    failed_since: tuple[datetime, str] | None = None

    def warning(self, zone: ZoneInfo) -> str | None:
        """What a reader must know before the figures: no sync, a failed, an unverified or
        an old one."""
        if self.last_sync_at is None:
            return "No sync has finished yet: the figures below do not reflect PIK."
        problems = []
        if self.failed_since is not None:
            began, why = self.failed_since
            problems.append(f"the last sync, begun {when(began, zone)}, did not finish "
                            f"({why}): the figures are those of the sync that finished "
                            f"{when(self.last_sync_at, zone)}")
        if not self.verified:
            problems.append(f"the last sync ({when(self.last_sync_at, zone)}) could not verify "
                            f"the links ({self.verdict}), so links may be missing or out of "
                            "date")
        if self.stale:
            problems.append(f"the data is stale: the last sync finished "
                            f"{when(self.last_sync_at, zone)}, more than "
                            f"{self.stale_after_hours} hours ago")
        if not problems:
            return None
        text = "; ".join(problems)
        return text[0].upper() + text[1:] + "."



@dataclass(frozen=True)
class AccountRuns:
    """One account of a report: how fresh its links are and the runs its findings are of."""

    account: str
    freshness: Freshness
    run_id: int | None
    run_as_of: datetime | None
    previous_run_id: int | None


@dataclass
class ReportData:
    since: datetime
    until: datetime
    timezone: str
    accounts: list[AccountRuns]
    summary: list[CurrencySummary] = field(default_factory=list)  # per account and currency
    aging: list[AgingRow] = field(default_factory=list)
    transit_aging: list[AgingRow] = field(default_factory=list)  # money in transit by age
    by_category: list[CategoryCount] = field(default_factory=list)
    findings_total: int = 0  # the findings the report lists
    acknowledged_total: int = 0
    listed_outside_period: int = 0  # open critical and warning findings of other dates
    bucket_labels: list[str] = field(default_factory=list)
    # what needs attention: every open finding of the last runs, whatever the period
    attention: Attention = field(default_factory=lambda: Attention((), ()))

    def open_count(self, severity: str) -> int:
        return self.attention.count(severity)

    @property
    def open_new(self) -> int:
        """Open critical and warning findings the previous run did not have."""
        return self.attention.new()

    @property
    def account_names(self) -> list[str]:
        return [a.account for a in self.accounts]

    @property
    def several(self) -> bool:
        """The report combines accounts: it shows which account each figure is of."""
        return len(self.accounts) > 1

    @property
    def first_reconciliation(self) -> bool:
        """No account has a previous run to compare with."""
        return all(a.previous_run_id is None for a in self.accounts)

    def totals(self) -> list[CurrencySummary]:
        """Per currency, the sum over every account (exact: Decimal addition)."""
        sums: dict[str, CurrencySummary] = {}
        for row in self.summary:
            total = sums.setdefault(row.currency, CurrencySummary(
                "", row.currency, dict.fromkeys(ALL_FIELDS, 0),
                dict.fromkeys(ALL_FIELDS, Decimal(0))))
            for name in ALL_FIELDS:
                total.counts[name] += row.counts[name]
                total.amounts[name] = EXACT.add(total.amounts[name], row.amounts[name])
            for severity, (count, amount) in row.at_stake.items():
                had, summed = total.at_stake.get(severity, (0, Decimal(0)))
                total.at_stake[severity] = (had + count, EXACT.add(summed, amount))
        return [sums[c] for c in sorted(sums)]

    def stakes(self) -> list[Stake]:
        """Per currency over the accounts: the open critical and warning findings of the
        last runs and their money at stake, whatever the period."""
        per = {s: {c: (n, amount) for c, n, amount in self.attention.at_stake((s,))}
               for s in ("critical", "warning")}
        zero = (0, Decimal(0))
        found = []
        for currency in sorted(set(per["critical"]) | set(per["warning"])):
            (critical, critical_amount), (warning, warning_amount) = (
                per[s].get(currency, zero) for s in ("critical", "warning"))
            found.append(Stake(currency, critical, warning, critical_amount, warning_amount))
        return found

    def headline(self) -> str:
        """What needs doing, in one sentence, with the money at stake per currency."""
        if not self.attention.runs:
            return "No reconciliation has run yet: nothing is known about findings."
        critical, warning = self.open_count("critical"), self.open_count("warning")
        if not critical and not warning:
            return ("Nothing needs attention: no open critical or warning findings in the last "
                    "reconciliation.")
        money_at_stake = ", ".join(money(s.amount, s.currency) for s in self.stakes())
        return (f"{critical} critical and {warning} warning findings need attention (every "
                "open one of the last reconciliation, whatever the period)"
                + (f"; at stake: {money_at_stake}." if money_at_stake else "."))

    def stakes_by_category(self) -> list[OpenFindings]:
        """The open findings of the last runs per account, category (in report order),
        severity and currency of their money."""
        accounts = [a.account for a in self.accounts]
        return sorted(self.attention.groups, key=lambda g: (
            accounts.index(g.account), CATEGORY_ORDER.get(g.category, len(CATEGORY_ORDER)),
            g.category, g.currency is None, g.currency or ""))

    def freshness_warning(self, zone: ZoneInfo) -> str | None:
        """What a reader must know before the figures, per account when there are several."""
        warnings = [(a.account, a.freshness.warning(zone)) for a in self.accounts]
        if not self.several:
            return warnings[0][1]
        found = [f"Account {name}: {text}" for name, text in warnings if text]
        return " ".join(found) or None



BUCKET_COLUMNS = (("position", "INTEGER"), ("label", "VARCHAR"), ("low", "BIGINT"),
                  ("high", "BIGINT"))


def bucket_rows(buckets: tuple[int, ...]) -> list[tuple[int, str, int, int]]:
    """(1, 7, 30) -> 0-1, 2-7, 8-30, 31+ days: (position, label, low, high)."""
    rows, low = [], 0
    for position, high in enumerate(buckets):
        rows.append((position, f"{low}-{high} days", low, high))
        low = high + 1
    rows.append((len(buckets), f"{low}+ days", low, 10**9))
    return rows


def _read_freshness(warehouse: Warehouse, account: str, settings: ReportSettings,
                    now: datetime) -> Freshness:
    row = warehouse.fetchone("SELECT finished_at, verified, verdict, id FROM sync_runs "
                             "WHERE account = ? AND resource = 'links' AND state = 'finished' "
                             "ORDER BY id DESC LIMIT 1", [account])
    if row is None:
        return Freshness(None, None, None, True, settings.stale_after_hours)
    failed = warehouse.fetchone(
        "SELECT started_at, coalesce(error, verdict, state) FROM sync_runs WHERE account = ? "
        "AND resource = 'links' AND id > ? AND state IN ('failed', 'interrupted') "
        "ORDER BY id DESC LIMIT 1", [account, row[3]])
    stale = now - row[0] > timedelta(hours=settings.stale_after_hours)
    return Freshness(row[0], row[1], row[2], stale, settings.stale_after_hours,
                     (failed[0], failed[1]) if failed else None)


# The runs a report's findings are of: (account, run_id, prev_run_id), -1 for none.
RunRow = tuple[str, int, int]
_RUN_COLUMNS = (("account", "VARCHAR"), ("run_id", "BIGINT"), ("prev_run_id", "BIGINT"))


def run_rows(data: ReportData) -> list[RunRow]:
    return [(a.account, a.run_id if a.run_id is not None else -1,
             a.previous_run_id if a.previous_run_id is not None else -1) for a in data.accounts]


def select_findings(warehouse: Warehouse, since: datetime, until: datetime,
                    runs: list[RunRow]) -> None:
    """The temp table report_findings: the findings a report lists, of each account's latest
    run (report_runs: which runs those are): the period's, and every open critical or
    warning one whatever its date (`in_period` tells them apart)."""
    warehouse.temp_table("report_runs", _RUN_COLUMNS, runs)
    warehouse.execute(query("latest_acks"))
    warehouse.execute(query("report_findings"), {
        "since": since, "until": until, "severities": list(SEVERITIES),
        "categories": [c for c, _ in CATEGORIES]})


def _account_runs(warehouse: Warehouse, account: str, settings: ReportSettings,
                  now: datetime) -> AccountRuns:
    runs = warehouse.fetchall("SELECT id, as_of FROM reconcile_runs WHERE account = ? AND "
                              "state = 'finished' ORDER BY id DESC LIMIT 2", [account])
    run_id, as_of = runs[0] if runs else (None, None)
    previous = runs[1][0] if len(runs) > 1 else None
    return AccountRuns(account, _read_freshness(warehouse, account, settings, now), run_id,
                       as_of, previous)


def read_figures(warehouse: Warehouse, settings: ReportSettings, accounts: list[str],
           since: datetime, until: datetime, now: datetime) -> ReportData:
    """Every figure of the report of `accounts`, read in one read-only session."""
    data = ReportData(since, until, settings.timezone,
                      [_account_runs(warehouse, a, settings, now) for a in accounts],
                      attention=needs_attention(warehouse, accounts))
    period = {"since": since, "until": until, "accounts": accounts}
    select_findings(warehouse, since, until, run_rows(data))
    for row in warehouse.fetchall(query("report_summary"), period):
        counts = {name: int(row[2 + 2 * i]) for i, name in enumerate(ALL_FIELDS)}
        amounts = {name: Decimal(row[3 + 2 * i]) for i, name in enumerate(ALL_FIELDS)}
        data.summary.append(CurrencySummary(row[0], row[1], counts, amounts))
    data.summary = with_stakes(data.summary, data.attention, accounts)
    buckets = bucket_rows(settings.aging_buckets)
    data.bucket_labels = [label for _, label, _, _ in buckets]
    warehouse.temp_table("aging_buckets", BUCKET_COLUMNS, buckets)
    data.aging, data.transit_aging = (
        [AgingRow(account, c, label, int(n), Decimal(amount))
         for account, c, _, label, n, amount
         in warehouse.fetchall(query(name), period)]
        for name in ("report_aging", "report_transit_aging"))
    data.by_category = _by_category(warehouse, period)
    data.findings_total = sum(c.count for c in data.by_category)
    data.acknowledged_total = sum(c.acknowledged for c in data.by_category)
    outside = warehouse.fetchone("SELECT count(*) FROM report_findings WHERE NOT in_period")
    data.listed_outside_period = int(outside[0]) if outside else 0
    return data


def with_stakes(summary: list[CurrencySummary], attention: Attention, accounts: list[str]
                ) -> list[CurrencySummary]:
    """The summary rows with the money at stake per severity of each account and currency;
    a currency with money at stake and no figure gets a row of its own."""
    rows = {(row.account, row.currency): row for row in summary}
    for group in attention.groups:
        if group.currency is None:
            continue
        row = rows.setdefault((group.account, group.currency), CurrencySummary(
            group.account, group.currency, dict.fromkeys(ALL_FIELDS, 0),
            dict.fromkeys(ALL_FIELDS, Decimal(0))))
        count, amount = row.at_stake.get(group.severity, (0, Decimal(0)))
        row.at_stake[group.severity] = (count + group.count, EXACT.add(amount, group.amount))
    return sorted(rows.values(), key=lambda r: (accounts.index(r.account), r.currency))


def _by_category(warehouse: Warehouse, period: dict[str, Any]) -> list[CategoryCount]:
    counts = {c: (int(n), int(new)) for c, n, new in warehouse.fetchall(
        "SELECT category, count(*), count(*) FILTER (WHERE is_new) FROM report_findings "
        "GROUP BY category")}
    acknowledged = dict(warehouse.fetchall(
        "SELECT category, count(*) FROM report_findings WHERE acknowledged GROUP BY category"))
    resolved = {c: int(n) for c, n in warehouse.fetchall(
        query("report_resolved"), {"since": period["since"], "until": period["until"]})}
    return [CategoryCount(category, severity, *counts.get(category, (0, 0)),
                          resolved.get(category, 0), int(acknowledged.get(category, 0)))
            for category, severity in CATEGORIES]


# The findings the report lists (FINDING_COLUMNS), in report order (report_rank: open first,
# then critical first). Parameter: how many, from the first (all when NULL).
FINDINGS_IN_ORDER = ("SELECT " + ", ".join(FINDING_COLUMNS) + " FROM report_findings "
                     "WHERE $1 IS NULL OR report_rank <= $1 ORDER BY report_rank")


def iter_findings(warehouse: Warehouse, limit: int | None = None
                  ) -> Iterator[list[tuple[Any, ...]]]:
    """The findings the report lists, in report order, a batch at a time; the first `limit`
    of them when there is one."""
    return warehouse.batches(FINDINGS_IN_ORDER, [limit], size=5_000)


def iter_transactions(warehouse: Warehouse, listed: int | None = None
                      ) -> Iterator[list[tuple[Any, ...]]]:
    """Each transaction of the findings the report lists (TRANSACTION_COLUMNS), in report
    order, a batch at a time; those of the first `listed` findings when there is one."""
    return warehouse.batches(query("report_transactions"), {"listed": listed})

"""`pik-recon reconcile`: match links to orders and store the findings as a new run.

The matching and the categories are SQL (sql/queries/reconcile_*.sql); this module stages the
configuration as small tables and records the run. The rows the last orders import rejected
are findings of the run too (`order_rejected`), beside whatever their orders have, and so
are the links whose money received disagrees with them (three-way: order, link,
transactions; sql/queries/reconcile_money.sql), beside whatever finding their order has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from pik_recon.categories import MONEY_CATEGORIES, SEVERITIES, SEVERITY
from pik_recon.config import DEFAULT_ACCOUNT, MatchingSettings, ReconcileSettings
from pik_recon.errors import UsageError
from pik_recon.warehouse import Warehouse, query


@dataclass(frozen=True)
class ReconcileResult:
    run_id: int
    as_of: datetime
    orders: int
    links: int
    by_category: dict[str, int]
    by_severity: dict[str, int]
    open_by_severity: dict[str, int]  # less those acknowledged and unchanged since

    @property
    def findings(self) -> int:
        return sum(self.by_category.values())


def _currency_groups(settings: MatchingSettings) -> list[tuple[str, str]]:
    rows = []
    for group in settings.equivalent_currencies:
        name = "=".join(sorted(group))
        rows += [(currency, name) for currency in group]
    return rows


def _tolerances(settings: MatchingSettings) -> list[tuple[str, str]]:
    """(currency, tolerance as text): DuckDB casts the text to DECIMAL, exactly."""
    return [(c, str(Decimal(t))) for c, t in settings.tolerance]


def require_synced(warehouse: Warehouse, account: str = DEFAULT_ACCOUNT,
                   why: str = "without PIK's links every paid order would look unpaid") -> None:
    """Reconciling (or a report) needs PIK's links: an account no sync has finished for is
    refused, saying `why`."""
    synced = warehouse.fetchone("SELECT count(*) FROM sync_runs WHERE account = ? AND "
                                "state = 'finished'", [account])
    if not synced or not synced[0]:
        whose = "" if account == DEFAULT_ACCOUNT else f" for account {account}"
        run = "pik-recon sync" + ("" if account == DEFAULT_ACCOUNT else f" --account {account}")
        raise UsageError(f"warehouse {warehouse.path}: no sync has completed{whose}; run "
                         f"`{run}` first ({why})")


# a bound on what each link's transactions add up to: their whole units, plus one per
# transaction for its decimals; below 10^20 every sum of them fits DECIMAL(38, 18)
_LARGEST_LINK_TOTAL = """
    SELECT coalesce(max(units), 0) FROM (
        SELECT sum(CAST(trunc(amount) AS HUGEINT)) + count(*) AS units
        FROM transactions WHERE account = ? AND vanished_at IS NULL
        GROUP BY payment_link_id)"""


def _stage_link_sum(warehouse: Warehouse, account: str) -> None:
    """The sum reconcile_money adds each link's money with: DuckDB's own, unless a link's
    transactions may add up past 20 integer digits, where only fitting_sum (about twenty
    times slower per sum) is exact, or names the sum that cannot be stored."""
    largest = warehouse.fetchone(_LARGEST_LINK_TOTAL, [account])
    exact = largest is not None and int(largest[0]) >= 10**20
    body = "fitting_sum(amount, what)" if exact else "sum(amount)"
    warehouse.execute(f"CREATE OR REPLACE TEMP MACRO link_sum(amount, what) AS {body}")


def reconcile(warehouse: Warehouse, settings: MatchingSettings,
              as_of: datetime | None = None, *, account: str = DEFAULT_ACCOUNT,
              money: ReconcileSettings | None = None, capture: bool = False
              ) -> ReconcileResult:
    """Match every order of `account` with its links, and every link with its transactions;
    one transaction, one new run. `money`: when money counts as late ([reconcile]);
    `capture`: the account's webhook capture is on (its secret is set), so payments no
    signed event announced or agrees with are findings too.

    Refused (UsageError, nothing stored) before a sync of the account has finished: with no
    links every paid order would look unpaid.
    """
    as_of = as_of or datetime.now(UTC)
    money = money or ReconcileSettings()
    require_synced(warehouse, account)
    with warehouse.transaction():
        run_id = warehouse.next_id("reconcile_runs_seq")
        last_sync = warehouse.fetchone("SELECT max(id) FROM sync_runs WHERE account = ? AND "
                                       "resource = 'links' AND state = 'finished'", [account])
        warehouse.execute("INSERT INTO reconcile_runs (id, account, started_at, as_of, state, "
                          "sync_run_id) VALUES (?, ?, ?, ?, 'running', ?)",
                          [run_id, account, datetime.now(UTC), as_of,
                           last_sync[0] if last_sync else None])
        warehouse.execute(query("reconcile_matches"),
                          {"description_regex": settings.description_regex,
                           "account": account})
        warehouse.temp_table("currency_groups", [("currency", "VARCHAR"), ("grp", "VARCHAR")],
                             _currency_groups(settings))
        warehouse.temp_table("tolerances", [("currency", "VARCHAR"),
                                            ("tolerance", "DECIMAL(38, 18)")],
                             _tolerances(settings))
        warehouse.execute(query("reconcile_findings"),
                          {"run_id": run_id, "as_of": as_of, "account": account,
                           "unpaid_after_days": settings.unpaid_after_days})
        warehouse.execute(query("reconcile_rejects"),
                          {"run_id": run_id, "account": account,
                           "severity": SEVERITY["order_rejected"]})
        _stage_link_sum(warehouse, account)
        warehouse.execute(query("reconcile_money"), {
            "run_id": run_id, "account": account, "as_of": as_of,
            "settlement_hours": money.settlement_hours,
            "webhook_grace_hours": money.webhook_grace_hours, "capture": capture,
            "categories": [c for c, _ in MONEY_CATEGORIES],
            "severities": [s for _, s in MONEY_CATEGORIES]})
        by_category = dict(warehouse.fetchall(
            "SELECT category, count(*) FROM findings WHERE run_id = ? GROUP BY category",
            [run_id]))
        by_severity = dict(warehouse.fetchall(
            "SELECT severity, count(*) FROM findings WHERE run_id = ? GROUP BY severity",
            [run_id]))
        warehouse.execute(query("latest_acks"))
        open_by_severity = dict(warehouse.fetchall(
            "SELECT f.severity, count(*) FROM findings AS f LEFT JOIN latest_acks AS a "
            "ON a.account = f.account AND a.finding_key = f.finding_key WHERE f.run_id = ? "
            "AND NOT is_acknowledged(a.reopened_at, a.state_digest, f.state_digest) "
            "GROUP BY f.severity", [run_id]))
        counted = warehouse.fetchone(
            "SELECT (SELECT count(*) FROM orders WHERE account = $account), "
            "(SELECT count(*) FROM payment_links WHERE account = $account)",
            {"account": account})
        assert counted is not None
        warehouse.execute(
            "UPDATE reconcile_runs SET finished_at = ?, state = 'finished', orders = ?, "
            "links = ?, findings = ?, critical = ?, warning = ?, info = ? WHERE id = ?",
            [datetime.now(UTC), counted[0], counted[1], sum(by_category.values()),
             *(by_severity.get(s, 0) for s in SEVERITIES), run_id])
        warehouse.execute("DROP TABLE link_matches; DROP TABLE tolerances; "
                          "DROP TABLE currency_groups")
    return ReconcileResult(run_id, as_of, int(counted[0]), int(counted[1]),
                           {k: int(v) for k, v in by_category.items()},
                           {k: int(v) for k, v in by_severity.items()},
                           {k: int(v) for k, v in open_by_severity.items()})

"""What needs attention: every open finding of each account's last reconciliation.

It is not bounded by any period: a report for one day still leads with every open critical
finding. `needs_attention` computes it once, from the warehouse alone; the report's
headline, its money at stake and `report --fail-on` read the same `Attention`, and so can a
job's headline, exit code and notification, and `status`.

A finding is open unless it was acknowledged while it said what it says now (and not
reopened since). The money at stake is each finding's own (`findings.at_stake`, in
`at_stake_currency`), summed per currency, never across currencies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from pik_recon.categories import ATTENTION_SEVERITIES, findings_exit_code, worst
from pik_recon.money import EXACT
from pik_recon.warehouse import Warehouse, query


@dataclass(frozen=True)
class OpenFindings:
    """The open findings of one account, category, severity and currency of their money."""

    account: str
    category: str
    severity: str
    currency: str | None  # None: findings that put no money at stake
    count: int
    new: int  # not in the account's previous reconciliation
    amount: Decimal  # the money at stake in them, in `currency`
    unpriced: int = 0  # of `count`, findings whose money is not known (runs before 012)


@dataclass(frozen=True)
class Attention:
    """The open findings of the last reconciliation of each account."""

    runs: tuple[tuple[str, int], ...]  # (account, run id) of each account reconciled
    groups: tuple[OpenFindings, ...]

    @classmethod
    def combined(cls, parts: Iterable[Attention]) -> Attention:
        """The attention of several reports' accounts together (each account in one)."""
        chosen = list(parts)
        return cls(tuple(r for p in chosen for r in p.runs),
                   tuple(g for p in chosen for g in p.groups))

    def count(self, severity: str) -> int:
        """Open findings of exactly this severity."""
        return sum(g.count for g in self.groups if g.severity == severity)

    def new(self, severities: Iterable[str] = ATTENTION_SEVERITIES) -> int:
        """Open findings of those severities that the previous run did not have."""
        chosen = set(severities)
        return sum(g.new for g in self.groups if g.severity in chosen)

    def worst(self) -> str | None:
        """The worst severity among open findings, None when there are none."""
        return worst({g.severity for g in self.groups if g.count})

    def exit_code(self, fail_on: str) -> int:
        """1 when open findings at or above `fail_on` (never, warning, critical) exist."""
        return findings_exit_code(self.worst(), fail_on)

    def at_stake(self, severities: Iterable[str] = ATTENTION_SEVERITIES
                 ) -> list[tuple[str, int, Decimal]]:
        """Per currency (sorted): the open findings of those severities and their money,
        over the accounts (`needs_attention(warehouse, [account])` for one)."""
        chosen = set(severities)
        sums: dict[str, tuple[int, Decimal]] = {}
        for g in self.groups:
            if g.currency is None or g.severity not in chosen:
                continue
            count, amount = sums.get(g.currency, (0, Decimal(0)))
            sums[g.currency] = (count + g.count, EXACT.add(amount, g.amount))
        return [(currency, *sums[currency]) for currency in sorted(sums)]

    def unpriced(self, severities: Iterable[str] = ATTENTION_SEVERITIES) -> int:
        """Open findings of those severities whose money at stake is not known."""
        chosen = set(severities)
        return sum(g.unpriced for g in self.groups if g.severity in chosen)



def _stage_attention_sum(warehouse: Warehouse, run_ids: list[int]) -> None:
    """The sum attention.sql adds the money at stake with: DuckDB's own, exact wherever the
    runs' findings cannot add up past 20 integer digits (their largest amount times their
    count stays below 10^20), else exact_sum (money_macros.sql): 0.15 s against 0.03 s for
    394,295 findings."""
    largest, count = warehouse.fetchone(
        "SELECT coalesce(max(abs(at_stake)), 0), count(*) FROM findings "
        "WHERE list_contains(?, run_id)", [run_ids]) or (0, 0)
    fits = EXACT.multiply(Decimal(largest), int(count)) < 10**20
    body = "CAST(sum(amount) AS VARCHAR)" if fits else "exact_sum(amount)"
    warehouse.execute(f"CREATE OR REPLACE TEMP MACRO attention_sum(amount) AS {body}")


def needs_attention(warehouse: Warehouse, accounts: Sequence[str]) -> Attention:
    """The open findings of the last finished reconciliation of each of `accounts`, with
    the money at stake in them, whatever period anyone asks about."""
    runs = warehouse.fetchall("SELECT account, max(id) FROM reconcile_runs WHERE state = "
                              "'finished' AND list_contains(?, account) GROUP BY account "
                              "ORDER BY account", [list(accounts)])
    warehouse.execute(query("latest_acks"))
    _stage_attention_sum(warehouse, [int(r) for _, r in runs])
    rows = warehouse.fetchall(query("attention"), {"accounts": list(accounts)})
    return Attention(tuple((str(a), int(r)) for a, r in runs),
                     tuple(OpenFindings(account, category, severity, currency, int(n),
                                        int(new), Decimal(amount if amount is not None else 0),
                                        int(unpriced))
                           for account, category, severity, currency, n, new, amount,
                           unpriced in rows))

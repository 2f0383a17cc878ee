"""Orders load and reconcile: an export into one account; a new reconciliation per account."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pik_recon.attention import needs_attention
from pik_recon.config import Config
from pik_recon.errors import PikReconError
from pik_recon.orders import LoadResult
from pik_recon.orders import load_orders as load_export
from pik_recon.reconcile import ReconcileResult, require_synced
from pik_recon.reconcile import reconcile as reconcile_account
from pik_recon.usecases.common import open_for_writing
from pik_recon.usecases.outcome import Failure, Outcome

# The findings of 1,000,000 orders hold about 850 MB of DuckDB's buffers at their peak when
# it may; past this it spills the rest, so a reconciliation stays well within 1 GB. Working
# at the limit, DuckDB frees and allocates blocks over and over; kept in its pool (up to the
# limit, until the warehouse closes) they are reused (README, Performance).
RECONCILE_MEMORY_LIMIT = "800MB"

# Which export an account's reconciliation loads first (None: none); may raise a
# PikReconError, which fails that account only (a drop folder with no export, say).
OrdersFor = Callable[[str], Path | None]


@dataclass(frozen=True, kw_only=True)
class OrdersOutcome(Outcome):
    """An orders export loaded into one account."""

    load: LoadResult

    def counts(self) -> dict[str, dict[str, Any]]:
        return {self.accounts[0]: _load_counts(self.load)}


@dataclass(frozen=True, kw_only=True)
class ReconcileOutcome(Outcome):
    """Per account reconciled: the export it loaded first, if any, and its new run; and
    what needs attention in the accounts reconciled, computed once after the runs."""

    loads: tuple[tuple[str, LoadResult], ...]
    runs: tuple[tuple[str, ReconcileResult], ...]

    def counts(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {a: _load_counts(load) for a, load in self.loads}
        for account, run in self.runs:
            found.setdefault(account, {}).update(
                run=run.run_id, findings=run.findings,
                open_critical=run.open_by_severity.get("critical", 0))
        return found


def _load_counts(load: LoadResult) -> dict[str, Any]:
    return {"orders_file": load.file, "orders_loaded": load.loaded,
            "rows_rejected": load.rejected}


def load_orders(config: Config, file: Path) -> OrdersOutcome:
    """`pik-recon orders load`: the export into the account `config` is scoped to."""
    with open_for_writing(config) as warehouse:
        load = load_export(warehouse, file, config.orders, account=config.account)
    return OrdersOutcome(accounts=(config.account,), load=load)


def reconcile(config: Config, accounts: Sequence[str] = (), *,
              orders: OrdersFor | None = None, as_of: datetime | None = None
              ) -> ReconcileOutcome:
    """`pik-recon reconcile`: for each account named (all when none is), load its export
    if `orders` names one, then match its orders with its links as a new run. An account
    no sync has finished for is refused before its orders are loaded; the others go on."""
    configs = config.scoped(accounts)
    names = tuple(c.account for c in configs)
    loads, runs, failures = [], [], []
    with open_for_writing(config, create=False,
                          memory_limit=RECONCILE_MEMORY_LIMIT) as warehouse:
        warehouse.pool_blocks(RECONCILE_MEMORY_LIMIT)
        for scoped in configs:
            account = scoped.account
            try:
                require_synced(warehouse, account)
                export = orders(account) if orders is not None else None
                if export is not None:
                    loads.append((account, load_export(warehouse, export, scoped.orders,
                                                       account=account)))
                runs.append((account, reconcile_account(
                    warehouse, config.matching, as_of, account=account,
                    money=config.reconcile, capture=config.capture_on(account))))
            except PikReconError as exc:
                failures.append(Failure(account, exc))
        attention = needs_attention(warehouse, [a for a, _ in runs])
    return ReconcileOutcome(accounts=names, failures=tuple(failures), attention=attention,
                            loads=tuple(loads), runs=tuple(runs))

"""Sync: the webhook spool first, then every account side by side, each proven or not."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pik_recon.config import Config
from pik_recon.errors import IncompleteSyncError
from pik_recon.sync import AccountSync, sync_accounts
from pik_recon.sync.pages import Progress
from pik_recon.usecases.common import WRITE_WAIT_SECONDS
from pik_recon.usecases.outcome import Failure, Outcome
from pik_recon.webhooks.load import load_before_sync


@dataclass(frozen=True, kw_only=True)
class SyncOutcome(Outcome):
    """Each account's sync run (or what stopped it). An account whose sync could not prove
    the warehouse complete is a failure (exit 4), like one that could not sync at all."""

    runs: tuple[AccountSync, ...]

    def counts(self) -> dict[str, dict[str, Any]]:
        return {run.account: {"new": run.result.new, "changed": run.result.changed,
                              "quarantined": run.result.quarantined,
                              "requests": run.result.spent, "budget": run.result.budget,
                              "retries": run.result.retries, "verified": run.result.verified}
                for run in self.runs if run.result is not None}

    @property
    def verified(self) -> tuple[str, ...]:
        return tuple(r.account for r in self.runs if r.exit_code == 0)


def sync(config: Config, accounts: Sequence[str] = (), *, full: bool = False,
         progress: Callable[[str], Progress] | None = None) -> SyncOutcome:
    """`pik-recon sync`: load the webhook spool (accounts with capture on), then sync the
    links of every account named (all when none is), side by side."""
    configs = config.scoped(accounts)
    names = tuple(c.account for c in configs)
    load_before_sync(config, names)
    runs = tuple(sync_accounts(configs, full=full, progress=progress,
                               wait_seconds=WRITE_WAIT_SECONDS))
    failures = []
    for run in runs:
        if run.error is not None:
            failures.append(Failure(run.account, run.error))
        elif run.result is not None and not run.result.verified:
            failures.append(Failure(run.account, IncompleteSyncError(
                f"sync run {run.result.run_id} {run.result.verdict}")))
    return SyncOutcome(accounts=names, failures=tuple(failures), runs=runs)

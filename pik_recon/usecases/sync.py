"""Sync: the webhook spool first, then every account side by side, each proven or not."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pik_recon.config import Config
from pik_recon.errors import ConfigError
from pik_recon.sync import AccountSync, sync_accounts
from pik_recon.sync.pages import Progress
from pik_recon.usecases.common import WRITE_WAIT_SECONDS
from pik_recon.usecases.outcome import Failure, Outcome
from pik_recon.webhooks.load import load_before_sync


@dataclass(frozen=True, kw_only=True)
class SyncOutcome(Outcome):
    """Each account's sync runs, its links' and its transactions' (or what stopped them).
    An account with a list its sync could not prove complete is a failure (exit 4), like
    one that could not sync at all."""

    runs: tuple[AccountSync, ...]

    def counts(self) -> dict[str, dict[str, Any]]:
        """Per account and list (`links`, `transactions`): verified, new, changed,
        quarantined, and `requests` as the budget counts them (a retried request once) of
        its `budget`, with the `retries` apart."""
        return {run.account: {r.resource: {
            "verified": r.verified, "new": r.new, "changed": r.changed,
            "quarantined": r.quarantined, "requests": r.requests.spent,
            "budget": r.requests.budget, "retries": r.requests.retries}
            for r in run.results} for run in self.runs if run.results}

    @property
    def verified(self) -> tuple[str, ...]:
        return tuple(r.account for r in self.runs if r.exit_code == 0)


def sync(config: Config, accounts: Sequence[str] = (), *, full: bool = False,
         progress: Callable[[str], Progress] | None = None) -> SyncOutcome:
    """`pik-recon sync`: load the webhook spool (accounts with capture on), then sync the
    links, then the transactions, of every account named (all when none is), side by side."""
    configs = config.scoped(accounts)
    names = tuple(c.account for c in configs)
    _require_a_key(configs)
    load_before_sync(config, names)
    runs = tuple(sync_accounts(configs, full=full, progress=progress,
                               wait_seconds=WRITE_WAIT_SECONDS))
    failures = tuple(Failure(run.account, failure) for run in runs
                     if (failure := run.failure()) is not None)
    return SyncOutcome(accounts=names, failures=failures, runs=runs)


def _require_a_key(configs: Sequence[Config]) -> None:
    """Refuse at once, the warehouse untouched, when no account named has a usable key
    (one account without a key only fails that account, as the sync says)."""
    problems = []
    for scoped in configs:
        try:
            scoped.require_api_key()
        except ConfigError as exc:
            problems.append(exc)
    if problems and len(problems) == len(configs):
        raise problems[0]

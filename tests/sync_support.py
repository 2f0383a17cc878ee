"""One account's sync, through the engine's entry point, for tests that need a synced
warehouse and the sync's result."""

from __future__ import annotations

from pik_recon.config import Config
from pik_recon.sync import SyncResult, sync_accounts


def sync_one(config: Config, *, full: bool = False) -> SyncResult:
    """Sync the one account `config` is scoped to; its error is raised."""
    (outcome,) = sync_accounts([config], full=full)
    if outcome.error is not None:
        raise outcome.error
    assert outcome.result is not None
    return outcome.result

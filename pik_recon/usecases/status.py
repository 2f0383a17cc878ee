"""Status: per account the last runs, freshness and what needs attention; the job runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pik_recon.attention import needs_attention
from pik_recon.config import Config
from pik_recon.status import Status, read_status, recent_job_runs
from pik_recon.usecases.common import open_for_reading
from pik_recon.usecases.outcome import Outcome
from pik_recon.webhooks.status import WebhookStatus, read_webhook_status


@dataclass(frozen=True, kw_only=True)
class StatusOutcome(Outcome):
    states: tuple[Status, ...]
    jobs: tuple[tuple[Any, ...], ...]
    webhooks: tuple[WebhookStatus, ...]


def status(config: Config, accounts: Sequence[str] = (), *, now: datetime | None = None
           ) -> StatusOutcome:
    """`pik-recon status`: what is known of the accounts named (all when none is)."""
    names = tuple(c.account for c in config.scoped(accounts))
    moment = now or datetime.now(UTC)
    with open_for_reading(config) as warehouse:
        states = tuple(read_status(warehouse, name, moment, config.report.stale_after_hours)
                       for name in names)
        jobs = tuple(recent_job_runs(warehouse))
        hooks = tuple(read_webhook_status(warehouse, config.spool_dir, [
            a.name for a in config.capturing if a.name in names], moment))
        attention = needs_attention(warehouse, names)
    return StatusOutcome(accounts=names, attention=attention, states=states, jobs=jobs,
                         webhooks=hooks)

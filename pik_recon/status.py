"""What `pik-recon status` reads from the warehouse, per account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pik_recon.findings import findings_of
from pik_recon.warehouse import Warehouse


@dataclass(frozen=True)
class Status:
    """One account's last runs, freshness and findings."""

    account: str
    syncs: list[tuple[Any, ...]]
    last_sync_at: datetime | None
    stale: bool
    reconcile: tuple[Any, ...] | None
    open_critical: list[tuple[Any, ...]]
    last_verified: bool | None = None  # of the last finished sync
    last_verdict: str | None = None
    open_findings: int = 0
    acknowledged: list[tuple[Any, ...]] = field(default_factory=list)


def read_status(warehouse: Warehouse, account: str, now: datetime, stale_after_hours: int
                ) -> Status:
    syncs = warehouse.fetchall(
        "SELECT id, mode, strftime(started_at, '%Y-%m-%d %H:%M:%S'), "
        "strftime(finished_at, '%Y-%m-%d %H:%M:%S'), state, budget_spent, verdict "
        "FROM sync_runs WHERE account = ? ORDER BY id DESC LIMIT 5", [account])
    last = warehouse.fetchone("SELECT finished_at, verified, verdict FROM sync_runs WHERE "
                              "account = ? AND state = 'finished' ORDER BY id DESC LIMIT 1",
                              [account])
    last_at = last[0] if last else None
    reconcile = warehouse.fetchone(
        "SELECT id, strftime(as_of, '%Y-%m-%d %H:%M:%S'), orders, links, findings, critical "
        "FROM reconcile_runs WHERE account = ? AND state = 'finished' ORDER BY id DESC "
        "LIMIT 1", [account])
    found = (findings_of(warehouse, [account], int(reconcile[0]))[1] if reconcile is not None
             else [])
    critical = [(f.key, f.category, f.order_id, f.link_id, f.age_days) for f in found
                if f.severity == "critical" and not f.acknowledged][:20]
    acknowledged = [(f.key, f.category, f.order_id, f.note, f.by,
                     f"{f.at:%Y-%m-%d %H:%M} UTC" if f.at else "") for f in found
                    if f.acknowledged][:20]
    return Status(account, syncs, last_at,
                  last_at is None or now - last_at > timedelta(hours=stale_after_hours),
                  reconcile, critical, last[1] if last else None, last[2] if last else None,
                  sum(1 for f in found if not f.acknowledged), acknowledged)


def recent_job_runs(warehouse: Warehouse, limit: int = 10) -> list[tuple[Any, ...]]:
    """The latest runs of every job, newest first."""
    return warehouse.fetchall(
        "SELECT id, job, trigger, strftime(started_at, '%Y-%m-%d %H:%M:%S'), "
        "strftime(finished_at, '%Y-%m-%d %H:%M:%S'), outcome, exit_code FROM job_runs "
        "ORDER BY id DESC LIMIT ?", [limit])

"""What `pik-recon status` reads from the warehouse, per account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pik_recon.findings import findings_of
from pik_recon.warehouse import Warehouse


@dataclass(frozen=True)
class LastSync:
    """The last finished sync run of one list (links, transactions)."""

    resource: str
    finished_at: datetime
    verified: bool
    verdict: str


@dataclass(frozen=True)
class Status:
    """One account's last runs, freshness and findings."""

    account: str
    syncs: list[tuple[Any, ...]]  # the last sync runs, of either list
    last_sync_at: datetime | None  # the links' last finished sync: the data's freshness
    stale: bool
    reconcile: tuple[Any, ...] | None
    open_critical: list[tuple[Any, ...]]
    last_syncs: dict[str, LastSync] = field(default_factory=dict)  # per list synced
    open_findings: int = 0
    acknowledged: list[tuple[Any, ...]] = field(default_factory=list)


def read_status(warehouse: Warehouse, account: str, now: datetime, stale_after_hours: int
                ) -> Status:
    syncs = warehouse.fetchall(
        "SELECT id, resource, mode, strftime(started_at, '%Y-%m-%d %H:%M:%S'), "
        "strftime(finished_at, '%Y-%m-%d %H:%M:%S'), state, budget_spent, verdict "
        "FROM sync_runs WHERE account = ? ORDER BY id DESC LIMIT 6", [account])
    last_syncs = {row[0]: LastSync(*row) for row in warehouse.fetchall(
        "SELECT resource, finished_at, verified, verdict FROM sync_runs WHERE account = ? "
        "AND state = 'finished' QUALIFY row_number() OVER (PARTITION BY resource "
        "ORDER BY id DESC) = 1 ORDER BY resource", [account])}
    last = last_syncs.get("links")
    last_at = last.finished_at if last else None
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
                  reconcile, critical, last_syncs,
                  sum(1 for f in found if not f.acknowledged), acknowledged)


def recent_job_runs(warehouse: Warehouse, limit: int = 10) -> list[tuple[Any, ...]]:
    """The latest runs of every job, newest first."""
    return warehouse.fetchall(
        "SELECT id, job, trigger, strftime(started_at, '%Y-%m-%d %H:%M:%S'), "
        "strftime(finished_at, '%Y-%m-%d %H:%M:%S'), outcome, exit_code FROM job_runs "
        "ORDER BY id DESC LIMIT ?", [limit])

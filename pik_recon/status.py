"""What `pik-recon status` reads from the warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pik_recon.jobs import last_runs
from pik_recon.warehouse import Warehouse


@dataclass(frozen=True)
class Status:
    syncs: list[tuple[Any, ...]]
    jobs: list[tuple[Any, ...]]
    last_sync_at: datetime | None
    stale: bool
    reconcile: tuple[Any, ...] | None
    open_critical: list[tuple[Any, ...]]


def read_status(warehouse: Warehouse, now: datetime, stale_after_hours: int) -> Status:
    syncs = warehouse.fetchall(
        "SELECT id, mode, strftime(started_at, '%Y-%m-%d %H:%M:%S'), "
        "strftime(finished_at, '%Y-%m-%d %H:%M:%S'), state, requests, verdict "
        "FROM sync_runs ORDER BY id DESC LIMIT 5")
    last = warehouse.fetchone("SELECT max(finished_at) FROM sync_runs WHERE state = 'finished'")
    last_at = last[0] if last else None
    reconcile = warehouse.fetchone(
        "SELECT id, strftime(as_of, '%Y-%m-%d %H:%M:%S'), orders, links, findings, critical "
        "FROM reconcile_runs WHERE state = 'finished' ORDER BY id DESC LIMIT 1")
    critical = warehouse.fetchall(
        "SELECT category, order_id, link_id, age_days FROM findings WHERE run_id = ? AND "
        "severity = 'critical' ORDER BY category, order_id LIMIT 20",
        [reconcile[0] if reconcile else -1])
    return Status(syncs, last_runs(warehouse), last_at,
                  last_at is None or now - last_at > timedelta(hours=stale_after_hours),
                  reconcile, critical)

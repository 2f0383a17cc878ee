"""What `pik-recon status` reads from the warehouse."""

from __future__ import annotations

from typing import Any

from pik_recon.warehouse import Warehouse


def last_sync_runs(warehouse: Warehouse, limit: int = 5) -> list[tuple[Any, ...]]:
    return warehouse.fetchall(
        "SELECT id, mode, strftime(started_at, '%Y-%m-%d %H:%M:%S'), "
        "strftime(finished_at, '%Y-%m-%d %H:%M:%S'), state, requests, verdict "
        "FROM sync_runs ORDER BY id DESC LIMIT ?", [limit])

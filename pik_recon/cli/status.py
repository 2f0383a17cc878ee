"""`pik-recon status`: the warehouse's last runs, freshness and open critical findings."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from pik_recon.cli.common import AppContext
from pik_recon.status import read_status
from pik_recon.warehouse import Warehouse

SYNC_COLUMNS = ("run", "mode", "started", "finished", "state", "requests", "verdict")
JOB_COLUMNS = ("run", "job", "trigger", "started", "finished", "outcome", "exit")
CRITICAL_COLUMNS = ("id", "category", "order", "link", "age days")
ACK_COLUMNS = ("id", "category", "order", "note", "by", "when")


@click.command()
@click.pass_obj
def status(app: AppContext) -> None:
    """Show the last syncs, reconciliation and job runs, the data's freshness and the open
    critical findings.

    \b
    Example:
      pik-recon status
    """
    config = app.config()
    with Warehouse.open(config.db_path, read_only=True, wait_seconds=30) as warehouse:
        state = read_status(warehouse, datetime.now(UTC), config.report.stale_after_hours)
    out = app.out
    out.result("status", {
        "syncs": [dict(zip(SYNC_COLUMNS, row, strict=True)) for row in state.syncs],
        "last_sync_at": state.last_sync_at, "stale": state.stale,
        "reconcile": state.reconcile,
        "last_sync_verified": state.last_verified, "last_sync_verdict": state.last_verdict,
        "open_findings": state.open_findings,
        "open_critical": [dict(zip(CRITICAL_COLUMNS, r, strict=True))
                          for r in state.open_critical],
        "acknowledged": [dict(zip(ACK_COLUMNS, r, strict=True)) for r in state.acknowledged],
        "jobs": [dict(zip(JOB_COLUMNS, row, strict=True)) for row in state.jobs]})
    if out.json:
        return
    if state.last_sync_at is not None and not state.last_verified:
        out.line(f"WARNING: the last sync could not prove the links complete: "
                 f"{state.last_verdict}")
    if state.last_sync_at is not None and state.stale:
        out.line(f"WARNING: the data is stale: the last sync finished "
                 f"{state.last_sync_at:%Y-%m-%d %H:%M} UTC")
    if not state.syncs:
        out.line("No sync has run yet: run `pik-recon sync`.")
    else:
        out.table("Sync runs", SYNC_COLUMNS, state.syncs, right=("run", "requests"))
    if state.last_sync_at is not None:
        age = datetime.now(UTC) - state.last_sync_at
        out.line(f"data freshness: last sync finished {state.last_sync_at:%Y-%m-%d %H:%M} UTC, "
                 f"{age.total_seconds() / 3600:.1f} h ago" + (" — STALE" if state.stale else ""))
    if state.reconcile is not None:
        run, as_of, orders, links, findings, _ = state.reconcile
        out.line(f"last reconciliation: run {run} as of {as_of}: {orders} orders, {links} "
                 f"links, {findings} findings ({state.open_findings} open, "
                 f"{findings - state.open_findings} acknowledged)")
    if state.open_critical:
        out.table("Open critical findings (first 20)", CRITICAL_COLUMNS, state.open_critical,
                  right=("age days",))
    if state.acknowledged:
        out.table("Acknowledged findings (first 20)", ACK_COLUMNS, state.acknowledged)
    if state.jobs:
        out.table("Job runs", JOB_COLUMNS, state.jobs, right=("run", "exit"))

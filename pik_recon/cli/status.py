"""`pik-recon status`: the warehouse's last runs, freshness and open critical findings."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from rich.table import Table

from pik_recon.cli.common import AppContext, console
from pik_recon.status import read_status
from pik_recon.warehouse import Warehouse


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
    if not state.syncs:
        console.print("No sync has run yet: run `pik-recon sync`.")
    else:
        _table("Sync runs", ("run", "mode", "started", "finished", "state", "requests",
                             "verdict"), state.syncs)
    if state.last_sync_at is not None:
        age = datetime.now(UTC) - state.last_sync_at
        console.print(f"data freshness: last sync finished {state.last_sync_at:%Y-%m-%d %H:%M}"
                      f" UTC, {age.total_seconds() / 3600:.1f} h ago"
                      + (" — STALE" if state.stale else ""))
    if state.reconcile is not None:
        run, as_of, orders, links, findings, critical = state.reconcile
        console.print(f"last reconciliation: run {run} as of {as_of}: {orders} orders, "
                      f"{links} links, {findings} findings, {critical} critical")
    if state.open_critical:
        _table("Open critical findings (first 20)", ("category", "order", "link", "age days"),
               state.open_critical)
    if state.jobs:
        _table("Job runs", ("run", "job", "trigger", "started", "finished", "outcome", "exit"),
               state.jobs)


def _table(title: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) if v is not None else "" for v in row))
    console.print(table)

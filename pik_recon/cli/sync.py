"""`pik-recon sync`, `status` and `demo`."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from rich.table import Table

from pik_recon.cli.common import AppContext, PageProgress, console
from pik_recon.errors import IncompleteSyncError
from pik_recon.links import STATUSES
from pik_recon.status import read_status
from pik_recon.sync import SyncResult
from pik_recon.syncrun import sync_links
from pik_recon.warehouse import Warehouse


def print_sync_summary(result: SyncResult) -> None:
    table = Table(title=f"Sync run {result.run_id} ({result.mode})", show_header=True)
    table.add_column("status")
    table.add_column("warehouse", justify="right")
    table.add_column("PIK total", justify="right")
    for status in STATUSES:
        table.add_row(status, str(result.counts.get(status, 0)),
                      str(result.totals.get(status, "?")))
    console.print(table)
    console.print(f"new {result.new}, changed {result.changed}, quarantined "
                  f"{result.quarantined}, requests {result.requests}, retries {result.retries}, "
                  f"fetched by id {result.by_id}")
    console.print(f"verdict: {result.verdict}")


@click.command()
@click.option("--full", is_flag=True, help="Sweep every status, even when an incremental "
              "sync would do.")
@click.option("--concurrency", type=click.IntRange(1, 64), help="Requests in flight at once "
              "(default from config, 8).")
@click.pass_obj
def sync(app: AppContext, full: bool, concurrency: int | None) -> None:
    """Pull every payment link from PIK into the warehouse and verify it is complete.

    \b
    Example:
      PIK_API_KEY=... pik-recon sync
    """
    overrides = {"pik": {"concurrency": concurrency}} if concurrency else {}
    config = app.config(**overrides)
    with PageProgress(app.interactive) as progress:
        result = sync_links(config, full=full, progress=progress)
    print_sync_summary(result)
    if not result.verified:
        raise IncompleteSyncError(f"sync run {result.run_id} {result.verdict}")


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

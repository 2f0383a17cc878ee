"""`pik-recon sync`."""

from __future__ import annotations

import click
from rich.table import Table

from pik_recon.cli.common import AppContext, PageProgress, console
from pik_recon.errors import IncompleteSyncError
from pik_recon.links import STATUSES
from pik_recon.sync import SyncResult, sync_links


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
                  f"{result.quarantined}, fetched by id {result.by_id}, vanished "
                  f"{result.vanished}")
    console.print(f"requests {result.spent} of a budget of {result.budget}, retries "
                  f"{result.retries}")
    console.print(f"verdict: {result.verdict}")
    if result.moved_note:
        console.print(result.moved_note)


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

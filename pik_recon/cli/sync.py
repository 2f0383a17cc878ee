"""`pik-recon sync`."""

from __future__ import annotations

import click

from pik_recon.cli.common import AppContext, Output, PageProgress
from pik_recon.links import STATUSES
from pik_recon.outcome import require_verified
from pik_recon.sync import SyncResult, sync_links


def print_sync_summary(out: Output, result: SyncResult) -> None:
    out.result("sync", {
        "run_id": result.run_id, "mode": result.mode, "verified": result.verified,
        "verdict": result.verdict, "pik_total": result.total, "accounted": result.accounted,
        "warehouse_counts": result.counts, "pik_totals": result.totals,
        "links_moved": result.moved, "new": result.new, "changed": result.changed,
        "quarantined": result.quarantined, "by_id": result.by_id,
        "vanished": result.vanished, "requests": result.spent, "budget": result.budget,
        "retries": result.retries})
    if out.json:
        return
    out.table(f"Sync run {result.run_id} ({result.mode})", ("status", "warehouse", "PIK total"),
              [(s, result.counts.get(s, 0), result.totals.get(s, "?")) for s in STATUSES],
              right=("warehouse", "PIK total"))
    out.line(f"new {result.new}, changed {result.changed}, quarantined {result.quarantined}, "
             f"fetched by id {result.by_id}, vanished {result.vanished}")
    out.line(f"requests {result.spent} of a budget of {result.budget}, retries "
             f"{result.retries}")
    out.line(f"verdict: {result.verdict}")
    if result.moved_note:
        out.line(result.moved_note)


@click.command()
@click.option("--full", is_flag=True, help="Sweep every link, even when an incremental "
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
    print_sync_summary(app.out, result)
    require_verified(result)

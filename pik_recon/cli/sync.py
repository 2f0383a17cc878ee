"""`pik-recon sync`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from pik_recon.cli.common import AppContext, Output, account_option, exit_with

if TYPE_CHECKING:
    from pik_recon.sync import SyncResult
    from pik_recon.usecases.sync import SyncOutcome


def print_sync_summary(out: Output, result: SyncResult, account: str, several: bool) -> None:
    """One list's sync run: a JSON result, or its table and lines."""
    from pik_recon.sync.resource import RESOURCES

    out.result("sync", {
        "account": account, "resource": result.resource, "run_id": result.run_id,
        "mode": result.mode, "verified": result.verified, "verdict": result.verdict,
        "pik_total": result.total, "accounted": result.accounted,
        "warehouse_counts": result.counts, "pik_totals": result.totals,
        "moved": result.moved, "new": result.new, "changed": result.changed,
        "quarantined": result.quarantined, "by_id": result.by_id,
        "vanished": result.vanished, "requests": result.requests.as_dict()})
    if out.json:
        return
    title = (f"Sync run {result.run_id}: {result.resource} ({result.mode})"
             + (f", account {account}" if several else ""))
    out.table(title, ("status", "warehouse", "PIK total"),
              [(s, result.counts.get(s, 0), result.totals.get(s, "?"))
               for s in RESOURCES[result.resource].statuses], right=("warehouse", "PIK total"))
    out.line(f"new {result.new}, changed {result.changed}, quarantined {result.quarantined}, "
             f"fetched by id {result.by_id}, vanished {result.vanished}")
    out.line(str(result.requests))
    out.line(f"verdict: {result.verdict}")
    if result.moved_note:
        out.line(result.moved_note)


def print_sync(out: Output, outcome: SyncOutcome) -> None:
    """Every account's summaries (its links, then its transactions); with several, the
    accounts that failed and a last line naming who was verified."""
    several = len(outcome.runs) > 1
    for run in outcome.runs:
        for result in run.results:
            print_sync_summary(out, result, run.account, several)
        if run.error is not None and several:
            out.result("sync", {"account": run.account, "failed": str(run.error),
                                "exit_code": run.exit_code})
            if not out.json:
                out.line(f"account {run.account}: sync failed (exit {run.exit_code}): "
                         f"{run.error}")
    if several and not out.json:
        out.line(f"accounts verified: {', '.join(outcome.verified) or 'none'}; failed: "
                 f"{', '.join(outcome.failed) or 'none'}")


@click.command()
@click.option("--full", is_flag=True, help="Sweep every link and every transaction, even when "
              "an incremental sync would do.")
@click.option("--concurrency", type=click.IntRange(1, 64), help="Requests in flight at once, "
              "per account (default from config, 8).")
@account_option("Sync the links and transactions")
@click.pass_obj
def sync(app: AppContext, full: bool, concurrency: int | None, accounts: tuple[str, ...]
         ) -> None:
    """Pull every payment link, then every transaction, from PIK into the warehouse and
    verify each list is complete.

    Several accounts sync side by side, each within its own rate limits; one failing stops
    none of the others, and the exit code is the worst of theirs.

    \b
    Example:
      PIK_API_KEY=... pik-recon sync
      pik-recon sync --account brand-a --account brand-b
    """
    from pik_recon.cli.progress import PageProgress
    from pik_recon.usecases.sync import sync as sync_lists

    overrides = {"pik": {"concurrency": concurrency}} if concurrency else {}
    config = app.config(**overrides)
    several = len(app.account_names(accounts)) > 1
    with PageProgress(app.interactive) as progress:
        outcome = sync_lists(config, accounts, full=full,
                             progress=lambda name: progress.account(name, several))
    print_sync(app.out, outcome)
    exit_with(outcome)

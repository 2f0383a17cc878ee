"""`pik-recon sync`."""

from __future__ import annotations

import click

from pik_recon.cli.common import AppContext, Output, PageProgress, account_option
from pik_recon.outcome import raise_failures
from pik_recon.sync import AccountSync, SyncResult, sync_accounts
from pik_recon.sync.resource import RESOURCES
from pik_recon.webhooks.load import load_before_sync


def print_sync_summary(out: Output, result: SyncResult, account: str, several: bool) -> None:
    """One list's sync run: a JSON result, or its table and lines."""
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


def finish(out: Output, outcomes: list[AccountSync]) -> None:
    """Every account's summaries (its links, then its transactions), then the worst exit
    code: an error stops nobody else, an unverified sync is a temporary failure (exit 4)."""
    several = len(outcomes) > 1
    failures: list[tuple[str, Exception]] = []
    for outcome in outcomes:
        for result in outcome.results:
            print_sync_summary(out, result, outcome.account, several)
        failure = outcome.failure()
        if failure is not None:
            failures.append((outcome.account, failure))
        if outcome.error is not None and several:
            out.result("sync", {"account": outcome.account, "failed": str(outcome.error),
                                "exit_code": outcome.exit_code})
            if not out.json:
                out.line(f"account {outcome.account}: sync failed (exit "
                         f"{outcome.exit_code}): {outcome.error}")
    if several and not out.json:
        good = [o.account for o in outcomes if o.exit_code == 0]
        out.line(f"accounts verified: {', '.join(good) or 'none'}; failed: "
                 f"{', '.join(name for name, _ in failures) or 'none'}")
    raise_failures(failures, len(outcomes))


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
    overrides = {"pik": {"concurrency": concurrency}} if concurrency else {}
    configs = app.configs(accounts, **overrides)
    load_before_sync(app.config(), [c.account for c in configs])
    with PageProgress(app.interactive) as progress:
        outcomes = sync_accounts(configs, full=full, progress=lambda name: progress.account(
            name, len(configs) > 1))
    finish(app.out, outcomes)

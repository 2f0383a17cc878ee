"""`pik-recon links create`."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import click

from pik_recon.cli.common import AppContext, account_option, exit_with


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.group()
def links() -> None:
    """Payment links on PIK."""


@links.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and plan; send nothing.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Output CSV (default: FILE's name with -links.csv).")
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Creations in flight at once (within 60/minute).")
@account_option("Create the links")
@click.pass_obj
def create(app: AppContext, file: Path, dry_run: bool, out: Path | None,
           concurrency: int, accounts: tuple[str, ...]) -> None:
    """Create one payment link per row of FILE (order_id, amount, currency[, description]),
    exactly once, even across crashes and re-runs. With several accounts, --account names
    the one the links are created on.

    \b
    Example:
      pik-recon links create invoices.csv --dry-run
      pik-recon links create invoices.csv --out invoices-links.csv
      pik-recon links create brand-a-invoices.csv --account brand-a
    """
    from pik_recon.cli.progress import PageProgress
    from pik_recon.usecases.links import create_links

    config = app.one_config(accounts, f"the links of {file}")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with PageProgress(app.interactive and not dry_run, "creating") as progress:
            outcome = create_links(config, file, out=out, dry_run=dry_run,
                                   concurrency=concurrency,
                                   progress=progress.account(config.account))
    finally:
        signal.signal(signal.SIGTERM, previous)
    report, out = outcome.report, app.out
    out.result("links_create", {"account": config.account, "file": str(file), "rows": report.rows,
                                "by_state": report.by_state, "posts": report.posts,
                                "lost_answers_found": report.resolved_existing,
                                "lost_answers_absent": report.proven_absent,
                                "dry_run": report.dry_run,
                                "out": str(report.out) if report.out else None})
    states = ", ".join(f"{state} {count}" for state, count in sorted(report.by_state.items()))
    if report.dry_run and not out.json:
        out.line(f"{file}: {report.rows} rows valid; {states}. Nothing was sent.")
    elif not out.json:
        out.line(f"{file}: {report.rows} rows; {states}; {report.posts} POST requests; "
                 f"{report.resolved_existing} lost answers found on PIK, "
                 f"{report.proven_absent} proven absent and sent again. Output: {report.out}")
    exit_with(outcome)

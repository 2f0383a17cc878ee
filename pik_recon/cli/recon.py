"""`pik-recon orders load` and `pik-recon reconcile`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from pik_recon.categories import CATEGORIES
from pik_recon.cli.common import AppContext, Output, account_option, exit_with
from pik_recon.whenparse import parse_when

if TYPE_CHECKING:
    from pik_recon.orders import LoadResult
    from pik_recon.reconcile import ReconcileResult

SHOWN_REJECTS = 20


def _reject_line(result: LoadResult, line: int, column: str | None, value: str | None,
                 reason: str) -> str:
    where = f"{result.file} line {line}" + (f", column '{column}'" if column else "")
    return f"{where}:" + (f" {value!r}:" if value is not None else "") + f" {reason}"


def print_load(out: Output, result: LoadResult, account: str) -> None:
    out.result("orders_load", {
        "account": account, "file": str(result.file), "import_id": result.import_id,
        "already_loaded": result.already_loaded, "rows_read": result.rows_read,
        "loaded": result.loaded, "superseded": result.superseded,
        "filtered": result.filtered, "rejected": result.rejected,
        "rejects": [_reject_line(result, r.line, r.column, r.value, r.reason)
                    for r in result.rejects[:SHOWN_REJECTS]], "hints": result.hints,
        "amounts_read_with": result.read_as or None})
    if out.json:
        return
    if result.already_loaded:
        out.line(f"{result.file}: already loaded with this mapping (import "
                 f"{result.import_id}); nothing changed.")
        return
    rows = "row" if result.rows_read == 1 else "rows"
    orders = "order" if result.loaded == 1 else "orders"
    out.line(f"{result.file}: {result.rows_read} {rows} read, {result.loaded} {orders} loaded, "
             f"{result.filtered} left out by the filter, {result.rejected} rejected.")
    out.line(f"  amounts read with {result.read_as}.")
    if result.superseded:
        out.line(f"  {result.superseded} of these orders were kept as they were: an export "
                 "with a later file time holds them already (the newer export wins; touch "
                 "this file, or load it last with a newer time, if it is the current one)")
    for reject in result.rejects[:SHOWN_REJECTS]:
        out.line("  " + _reject_line(result, reject.line, reject.column, reject.value,
                                     reject.reason))
    if result.rejected > SHOWN_REJECTS:
        out.line(f"  ... and {result.rejected - SHOWN_REJECTS} more: SELECT * FROM "
                 f"order_rejects WHERE import_id = {result.import_id}")
    if result.rejected:
        out.line("  the next reconciliation reports each rejected row as an order_rejected "
                 "finding")
    for hint in result.hints:
        out.line(f"hint: {hint}")


def print_reconcile(out: Output, result: ReconcileResult, account: str, several: bool
                    ) -> None:
    out.result("reconcile", {"account": account, "run_id": result.run_id,
                             "orders": result.orders, "links": result.links,
                             "findings": result.by_category,
                             "open_by_severity": result.open_by_severity})
    if out.json:
        return
    whose = f", account {account}" if several else ""
    out.table(f"Reconciliation run {result.run_id}{whose}: {result.orders} orders, "
              f"{result.links} links", ("category", "severity", "findings"),
              [(c, s, result.by_category.get(c, 0)) for c, s in CATEGORIES],
              right=("findings",))
    opened = sum(result.open_by_severity.values())
    out.line(f"{opened} open findings ({result.open_by_severity.get('critical', 0)} critical), "
             f"{result.findings - opened} acknowledged and unchanged; `pik-recon findings list` "
             "shows them")


@click.group()
def orders() -> None:
    """The shop's orders exports."""


@orders.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@account_option("The orders")
@click.pass_obj
def load(app: AppContext, file: Path, accounts: tuple[str, ...]) -> None:
    """Import an orders export (CSV) into the warehouse; bad rows are listed, never dropped,
    and become findings; more than [orders] max_rejected_share of them store nothing. With
    several accounts, --account names the one whose shop exported it.

    \b
    Example:
      pik-recon orders load exports/orders-2026-11-24.csv
      pik-recon orders load exports/brand-a.csv --account brand-a
    """
    from pik_recon.usecases.reconcile import load_orders

    config = app.one_config(accounts, f"the orders export {file}")
    outcome = load_orders(config, file)
    print_load(app.out, outcome.load, config.account)
    exit_with(outcome)


@click.command("reconcile")
@click.option("--orders", "orders_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Load this orders export first.")
@click.option("--as-of", "as_of", metavar="WHEN", help="Count ages up to this time "
              "(default: now); same forms as report --since, a bare date or time in [report] "
              "timezone.")
@account_option("Reconcile the orders and links")
@click.pass_obj
def reconcile_command(app: AppContext, orders_file: Path | None, as_of: str | None,
                      accounts: tuple[str, ...]) -> None:
    """Match orders with payment links and store the findings as a new run, one per
    account; with --orders, of the one account the export belongs to.

    \b
    Example:
      pik-recon reconcile --orders exports/orders-2026-11-24.csv
      pik-recon reconcile --account brand-a --account brand-b
    """
    from pik_recon.usecases.reconcile import reconcile

    chosen = ([app.one_config(accounts, f"the orders export {orders_file}").account]
              if orders_file else accounts)
    moment = None
    if as_of:
        try:
            moment = parse_when(as_of, now=datetime.now(UTC),
                                tz=ZoneInfo(app.config().report.timezone))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--as-of") from None
    outcome = reconcile(app.config(), chosen, as_of=moment,
                        orders=(lambda _: orders_file) if orders_file else None)
    several = len(app.config().account_names) > 1
    for account, load in outcome.loads:
        print_load(app.out, load, account)
    for account, run in outcome.runs:
        print_reconcile(app.out, run, account, several)
    exit_with(outcome)

"""`pik-recon orders load` and `pik-recon reconcile`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from pik_recon.cli.common import AppContext, Output, account_option
from pik_recon.errors import PikReconError
from pik_recon.orders import LoadResult, load_orders
from pik_recon.outcome import raise_failures
from pik_recon.reconcile import CATEGORIES, ReconcileResult, reconcile, require_synced
from pik_recon.warehouse import Warehouse
from pik_recon.whenparse import parse_when

SHOWN_REJECTS = 20


def _reject_line(result: LoadResult, line: int, column: str | None, value: str | None,
                 reason: str) -> str:
    where = f"{result.file} line {line}" + (f", column '{column}'" if column else "")
    return f"{where}:" + (f" {value!r}:" if value is not None else "") + f" {reason}"


def print_load(out: Output, result: LoadResult, account: str) -> None:
    out.result("orders_load", {
        "account": account, "file": str(result.file), "import_id": result.import_id,
        "already_loaded": result.already_loaded, "rows_read": result.rows_read,
        "loaded": result.loaded, "filtered": result.filtered, "rejected": result.rejected,
        "rejects": [_reject_line(result, r.line, r.column, r.value, r.reason)
                    for r in result.rejects[:SHOWN_REJECTS]], "hints": result.hints,
        "amounts_read_with": result.read_as or None})
    if out.json:
        return
    if result.already_loaded:
        out.line(f"{result.file}: already loaded with this mapping (import "
                 f"{result.import_id}); nothing changed.")
        return
    out.line(f"{result.file}: {result.rows_read} rows read, {result.loaded} orders loaded, "
             f"{result.filtered} left out by the filter, {result.rejected} rejected.")
    out.line(f"  amounts read with {result.read_as}.")
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
    config = app.one_config(accounts, f"the orders export {file}")
    with Warehouse.open(config.db_path, wait_seconds=30) as warehouse:
        result = load_orders(warehouse, file, config.orders, account=config.account)
    print_load(app.out, result, config.account)


@click.command("reconcile")
@click.option("--orders", "orders_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Load this orders export first.")
@click.option("--as-of", "as_of", metavar="WHEN", help="Count ages up to this time "
              "(default: now); same forms as report --since.")
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
    configs = ([app.one_config(accounts, f"the orders export {orders_file}")] if orders_file
               else app.configs(accounts))
    moment = None
    if as_of:
        try:
            moment = parse_when(as_of, now=datetime.now(UTC))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--as-of") from None
    several = len(app.config().account_names) > 1
    failures: list[tuple[str, Exception]] = []
    with Warehouse.open(configs[0].db_path, create=False, wait_seconds=30) as warehouse:
        for config in configs:
            try:
                require_synced(warehouse, config.account)  # before orders load: none stored
                if orders_file is not None:
                    print_load(app.out, load_orders(warehouse, orders_file, config.orders,
                                                    account=config.account), config.account)
                result = reconcile(warehouse, config.matching, moment, account=config.account,
                                   money=config.reconcile,
                                   capture=config.capture_on(config.account))
            except PikReconError as exc:  # the other accounts still reconcile
                failures.append((config.account, exc))
                continue
            print_reconcile(app.out, result, config.account, several)
    raise_failures(failures, len(configs))

"""`pik-recon orders load` and `pik-recon reconcile`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from pik_recon.cli.common import AppContext, console
from pik_recon.orders import LoadResult, load_orders
from pik_recon.reconcile import CATEGORIES, ReconcileResult, reconcile
from pik_recon.warehouse import Warehouse
from pik_recon.whenparse import parse_when

SHOWN_REJECTS = 20


def print_load(result: LoadResult) -> None:
    if result.already_loaded:
        console.print(f"{result.file}: already loaded (import {result.import_id}); nothing "
                      "changed.")
        return
    console.print(f"{result.file}: {result.rows_read} rows read, {result.loaded} orders "
                  f"loaded, {result.filtered} left out by the filter, {result.rejected} "
                  "rejected.")
    for reject in result.rejects[:SHOWN_REJECTS]:
        where = f"{result.file} line {reject.line}"
        if reject.column:
            where += f", column '{reject.column}'"
        value = f" {reject.value!r}:" if reject.value is not None else ""
        console.print(f"  {where}:{value} {reject.reason}", markup=False)
    if result.rejected > SHOWN_REJECTS:
        console.print(f"  ... and {result.rejected - SHOWN_REJECTS} more: SELECT * FROM "
                      f"order_rejects WHERE import_id = {result.import_id}")


def print_reconcile(result: ReconcileResult) -> None:
    table = Table(title=f"Reconciliation run {result.run_id}: {result.orders} orders, "
                        f"{result.links} links")
    table.add_column("category")
    table.add_column("severity")
    table.add_column("findings", justify="right")
    for category, severity in CATEGORIES:
        table.add_row(category, severity, str(result.by_category.get(category, 0)))
    console.print(table)


@click.group()
def orders() -> None:
    """The shop's orders exports."""


@orders.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def load(app: AppContext, file: Path) -> None:
    """Import an orders export (CSV) into the warehouse; bad rows are listed, never dropped.

    \b
    Example:
      pik-recon orders load exports/orders-2026-11-24.csv
    """
    config = app.config()
    with Warehouse.open(config.db_path, wait_seconds=30) as warehouse:
        result = load_orders(warehouse, file, config.orders)
    print_load(result)


@click.command("reconcile")
@click.option("--orders", "orders_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Load this orders export first.")
@click.option("--as-of", "as_of", metavar="WHEN", help="Count ages up to this time "
              "(default: now); same forms as report --since.")
@click.pass_obj
def reconcile_command(app: AppContext, orders_file: Path | None, as_of: str | None) -> None:
    """Match orders with payment links and store the findings as a new run.

    \b
    Example:
      pik-recon reconcile --orders exports/orders-2026-11-24.csv
    """
    config = app.config()
    moment = None
    if as_of:
        try:
            moment = parse_when(as_of, now=datetime.now(UTC))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--as-of") from None
    with Warehouse.open(config.db_path, wait_seconds=30) as warehouse:
        if orders_file is not None:
            print_load(load_orders(warehouse, orders_file, config.orders))
        result = reconcile(warehouse, config.matching, moment)
    print_reconcile(result)

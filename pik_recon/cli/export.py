"""`pik-recon export parquet`."""

from __future__ import annotations

from pathlib import Path

import click

from pik_recon.cli.common import AppContext, account_option, exit_with
from pik_recon.export import TABLES
from pik_recon.usecases.export import export_parquet


@click.group()
def export() -> None:
    """The warehouse for other engines (Spark, Trino, DuckDB, pandas)."""


@export.command()
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@account_option("Export the rows")
@click.option("--table", "tables", multiple=True, metavar="T",
              help=f"Export this table only (repeat for several; default: all of "
              f"{', '.join(TABLES)}).")
@click.pass_obj
def parquet(app: AppContext, folder: Path, accounts: tuple[str, ...],
            tables: tuple[str, ...]) -> None:
    """Write the warehouse's tables into DIR as Parquet, partitioned by account (and by
    date where a table grows with time), with DIR/manifest.json. Run again, it rewrites
    only the partitions that changed; a reader never sees half a file.

    \b
    Example:
      pik-recon export parquet ./export
      pik-recon export parquet ./export --account brand-a --table payment_links
    """
    outcome = export_parquet(app.config(), folder, accounts, tables=tables)
    result, names, out = outcome.result, outcome.accounts, app.out
    columns = ("table", "rows", "partitions written", "unchanged", "removed")
    rows = [(t.table, t.rows, t.written, t.kept, t.removed) for t in result.tables]
    out.result("export", {"out": str(folder), "accounts": names,
                          "tables": [dict(zip(columns, r, strict=True)) for r in rows]})
    if out.json:
        return
    out.table(f"Parquet export in {folder} (accounts {', '.join(names)})", columns, rows,
              right=columns[1:])
    out.line(f"{result.written} partitions written, {result.kept} unchanged; manifest "
             f"{folder / 'manifest.json'}")
    exit_with(outcome)

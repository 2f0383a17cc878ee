"""The `pik-recon` command line: parses options, builds the config, calls, maps errors."""

from __future__ import annotations

import sys
import traceback

import click

from pik_recon import __version__
from pik_recon.cli.common import AppContext
from pik_recon.cli.demo import demo
from pik_recon.cli.jobs import run_command, scheduler
from pik_recon.cli.links import links
from pik_recon.cli.recon import orders, reconcile_command
from pik_recon.cli.report import report
from pik_recon.cli.sandbox import sandbox
from pik_recon.cli.sync import status, sync
from pik_recon.errors import EXIT_INTERNAL, EXIT_USAGE, PikReconError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pik-recon")
@click.option("--config", "config_path", metavar="PATH",
              help="Config file (default: $PIK_RECON_CONFIG, else ./pik-recon.toml).")
@click.option("--db", metavar="PATH", help="Warehouse file (default: $PIK_RECON_DB, else "
              "./pik_recon.duckdb).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logs and full tracebacks.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one object per line, for cron and log shippers.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, db: str | None, verbose: bool,
        log_format: str) -> None:
    """Reconcile PIK crypto payment links with your shop's orders.

    \b
    Example:
      export PIK_API_KEY=...        # never printed, logged or stored
      pik-recon sync                # pull every payment link into ./pik_recon.duckdb
      pik-recon status
    """
    ctx.obj = AppContext(config_path=config_path, db=db, verbose=verbose, log_format=log_format)


cli.add_command(sync)
cli.add_command(status)
cli.add_command(sandbox)
cli.add_command(orders)
cli.add_command(links)
cli.add_command(report)
cli.add_command(run_command)
cli.add_command(scheduler)
cli.add_command(reconcile_command)
cli.add_command(demo)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: exit codes per the README, tracebacks only with -v."""
    verbose = "-v" in (argv or sys.argv) or "--verbose" in (argv or sys.argv)
    try:
        code = cli.main(args=argv, prog_name="pik-recon", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if exc.exit_code else EXIT_USAGE)
    except PikReconError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception:  # the last resort: a bug, shown plainly
        if verbose:
            traceback.print_exc()
        else:
            click.echo("Internal error (run with -v for the traceback): "
                       f"{traceback.format_exc().strip().splitlines()[-1]}", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)

"""The `pik-recon` command line: parses options, builds the config, calls, maps errors."""

from __future__ import annotations

import importlib
import itertools
import json
import os
import sys
import traceback
from typing import NoReturn

import click

from pik_recon import __version__
from pik_recon.cli.common import AppContext
from pik_recon.errors import EXIT_INTERNAL, EXIT_USAGE, Interrupted, PikReconError, UsageError
from pik_recon.sandbox import EXTRA as SANDBOX_EXTRA
from pik_recon.sandbox import missing as sandbox_missing

# Each command's module is imported only when that command runs or its own help is asked
# for; `pik-recon --help` lists the commands from this table alone, so it imports none of
# them (tests/unit/test_cli_startup.py checks the one-line helps match the commands').
COMMANDS = {
    "sync": ("pik_recon.cli.sync:sync", "Pull every payment link, then every transaction, "
             "from PIK into the warehouse and verify each list is complete."),
    "status": ("pik_recon.cli.status:status", "Show the last syncs, reconciliation and job "
               "runs, the data's freshness and the open critical findings, per account."),
    "sandbox": ("pik_recon.cli.sandbox:sandbox", "The local PIK sandbox, for trying "
                "pik-recon without a key and for tests."),
    "orders": ("pik_recon.cli.recon:orders", "The shop's orders exports."),
    "links": ("pik_recon.cli.links:links", "Payment links on PIK."),
    "report": ("pik_recon.cli.report:report", "Write the finance reports for a period, from "
               "the warehouse alone (no network)."),
    "run": ("pik_recon.cli.jobs:run_command", "Run one job from jobs/ now (what cron calls); "
            "exit code of its worst step."),
    "scheduler": ("pik_recon.cli.jobs:scheduler", "Run every job in jobs/ on its schedule, in "
                  "the foreground, until SIGTERM or Ctrl-C."),
    "reconcile": ("pik_recon.cli.recon:reconcile_command", "Match orders with payment links "
                  "and store the findings as a new run, one per account; with --orders, of "
                  "the one account the export belongs to."),
    "demo": ("pik_recon.cli.demo:demo", "Run the nightly job on a local sandbox seeded from "
             "sample_data/: sync, reconcile the sample orders, write the reports."),
    "findings": ("pik_recon.cli.findings:findings", "The last reconciliation's findings: list "
                 "them, acknowledge them, reopen them."),
    "export": ("pik_recon.cli.export:export", "The warehouse for other engines (Spark, Trino, "
               "DuckDB, pandas)."),
    "webhooks": ("pik_recon.cli.webhooks:webhooks", "PIK's signed events: receive them "
                 "durably, load them, register an endpoint."),
}
# The commands that run the sandbox, whose dependencies come with the extra `sandbox`.
SANDBOX_COMMANDS = ("sandbox", "demo")


class LazyGroup(click.Group):
    """A group whose subcommands are named here and imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        if cmd_name in SANDBOX_COMMANDS and (lacking := sandbox_missing()):
            return _needs_sandbox(cmd_name, lacking)
        module, _, attribute = COMMANDS[cmd_name][0].partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their one-line help as click lists them, from the table."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        with formatter.section("Commands"):
            formatter.write_dl([(name, click.Command(name, help=_one_line_help(name))
                                 .get_short_help_str(limit)) for name in names])


def _one_line_help(name: str) -> str:
    if name in SANDBOX_COMMANDS and sandbox_missing():
        return f"(not installed: {SANDBOX_EXTRA})"
    return COMMANDS[name][1]


def _needs_sandbox(name: str, lacking: str) -> click.Command:
    """A stand-in for a sandbox command when the sandbox extra is not installed: whatever
    it is given, it says what to install and exits 2."""

    def refuse(args: tuple[str, ...]) -> None:
        raise UsageError(f"`pik-recon {name}` runs the sandbox, which needs {lacking}; it "
                         f"comes with the sandbox extra: {SANDBOX_EXTRA}")

    return click.Command(
        name, callback=refuse, short_help=f"(not installed: {SANDBOX_EXTRA})",
        help=f"Runs the sandbox; install it first: {SANDBOX_EXTRA}",
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
        context_settings={"ignore_unknown_options": True})


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def _say(message: str, code: int, as_json: bool, verbose: bool) -> NoReturn:
    """The one line an operator reads (a JSON object under --log-format json), then exit."""
    trace = traceback.format_exc() if verbose else None
    if as_json:
        payload = {"level": "error", "message": message, "exit_code": code}
        click.echo(json.dumps({**payload, "traceback": trace} if trace else payload,
                              ensure_ascii=False), err=True)
    else:
        if trace:
            click.echo(trace.rstrip(), err=True)
        click.echo(message, err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: exit codes per the README, tracebacks only with -v."""
    # Customer payment data: whatever pik-recon or a library of its creates (the warehouse,
    # its WAL, reports, exports, locks) is its owner's only, whatever umask cron gave us.
    os.umask(0o077)
    args = argv if argv is not None else sys.argv[1:]
    verbose = "-v" in args or "--verbose" in args
    as_json = "--log-format=json" in args or ("--log-format", "json") in itertools.pairwise(args)
    try:
        code = cli.main(args=argv, prog_name="pik-recon", standalone_mode=False)
    except click.exceptions.Abort as exc:  # click turns Ctrl-C (and Interrupted) into Abort
        stopped = exc.__cause__
        if isinstance(stopped, Interrupted):  # SIGINT or SIGTERM, once what it stopped is kept
            _say(f"Interrupted by {stopped.signal_name}.", stopped.exit_code, as_json, False)
        _say("Aborted.", 130, as_json, False)
    except click.ClickException as exc:
        if not as_json:
            exc.show()
            sys.exit(exc.exit_code if exc.exit_code else EXIT_USAGE)
        _say(f"Error: {exc.format_message()}", exc.exit_code or EXIT_USAGE, True, False)
    except PikReconError as exc:
        _say(f"Error: {exc}", exc.exit_code, as_json, verbose)
    except KeyboardInterrupt:
        _say("Interrupted.", 130, as_json, False)
    except Exception as exc:  # the last resort: a bug, shown plainly
        _say(f"Internal error (run with -v for the traceback): {type(exc).__name__}: {exc}",
             EXIT_INTERNAL, as_json, verbose)
    sys.exit(code if isinstance(code, int) else 0)

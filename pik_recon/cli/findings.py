"""`pik-recon findings list`, `ack` and `reopen`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pik_recon.categories import CATEGORIES, SEVERITIES
from pik_recon.cli.common import AppContext, Output, account_option
from pik_recon.findings import runs_named

if TYPE_CHECKING:
    from pik_recon.findings import Finding

COLUMNS = ("id", "severity", "category", "order", "link", "order amount", "link amount",
           "received", "difference", "days", "transactions", "state", "note", "description")


def _row(f: Finding, several: bool) -> tuple[object, ...]:
    from pik_recon.report.display import money

    note = f"{f.note} ({f.by}, {f.at:%Y-%m-%d %H:%M})" if f.acknowledged and f.at else ""
    return ((f.account,) if several else ()) + (
        f.key, f.severity, f.category, f.order_id, f.link_id,
        money(f.order_amount, f.order_currency), money(f.link_amount, f.link_currency),
        money(f.received_amount, f.link_currency),
        money(f.difference, f.order_currency or f.link_currency), f.age_days,
        (f.transaction_ids or "").replace(";", " "), f.state, note, f.description)


def _payload(f: Finding) -> dict[str, object]:
    from pik_recon.report.display import exact

    return {"account": f.account, "id": f.key, "severity": f.severity, "category": f.category,
            "order_id": f.order_id, "link_id": f.link_id, "description": f.description,
            "received_amount": None if f.received_amount is None else exact(
                f.received_amount, f.link_currency),
            "transaction_ids": f.transaction_ids.split(";") if f.transaction_ids else [],
            "state": f.state, "note": f.note,
            "acknowledged_by": f.by, "acknowledged_at": f.at}


def _print_changed(out: Output, kind: str, findings: Sequence[Finding], verb: str,
                   extra: str = "") -> None:
    out.result(kind, {"findings": [_payload(f) for f in findings]})
    if not out.json:
        ids = ", ".join(f.key for f in findings) or "none"
        out.line(f"{verb} {len(findings)} finding(s): {ids}{extra}")


@click.group()
def findings() -> None:
    """The last reconciliation's findings: list them, acknowledge them, reopen them."""


@findings.command("list")
@click.option("--open", "state", flag_value="open", help="Only findings still open.")
@click.option("--acknowledged", "state", flag_value="acknowledged",
              help="Only acknowledged findings.")
@click.option("--category", type=click.Choice([c for c, _ in CATEGORIES]))
@click.option("--severity", type=click.Choice(SEVERITIES))
@click.option("--run", "run_id", type=int, metavar="N", help="A reconciliation run (default: "
              "the last of each account).")
@account_option("Findings")
@click.pass_obj
def list_command(app: AppContext, state: str | None, category: str | None,
                 severity: str | None, run_id: int | None, accounts: tuple[str, ...]) -> None:
    """List findings with their ids, state and note, open ones first.

    \b
    Example:
      pik-recon findings list --open --severity critical
    """
    from pik_recon.usecases.findings import list_findings

    config = app.config()
    found = list_findings(config, accounts, run_id=run_id, state=state, category=category,
                          severity=severity)
    runs, every, shown = found.runs, found.every, found.shown
    out = app.out
    out.result("findings", {"run_ids": runs, "findings": [_payload(f) for f in shown]})
    if out.json:
        return
    acked = sum(f.acknowledged for f in every)
    several = len(config.account_names) > 1
    out.table(f"Findings of {runs_named(runs)}: {len(every) - acked} open, {acked} "
              f"acknowledged ({len(shown)} shown)",
              (("account",) if several else ()) + COLUMNS, [_row(f, several) for f in shown],
              right=("order amount", "link amount", "received", "difference", "days"))


@findings.command("ack")
@click.argument("ids", nargs=-1)
@click.option("--note", help="What was done, e.g. \"refunded on 30 Nov\" (required with IDs).")
@click.option("--by", help="Who (default: your login name).")
@click.option("--from", "from_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A CSV of finding_id and note (findings.csv with notes filled in).")
@account_option("Findings")
@click.pass_obj
def ack(app: AppContext, ids: tuple[str, ...], note: str | None, by: str | None,
        from_file: Path | None, accounts: tuple[str, ...]) -> None:
    """Acknowledge findings of the last run (of each account): they stay acknowledged while
    they recur unchanged, and no longer count for --fail-on or alerts.

    \b
    Example:
      pik-recon findings ack 3f9c2a1b7d04 --note "refunded on 30 Nov"
      pik-recon findings ack --from reports/2026-11-30/findings.csv
    """
    from pik_recon.usecases.findings import ack_findings

    if bool(ids) == bool(from_file):
        raise click.UsageError("give finding ids with --note, or --from FILE")
    if ids and not note:
        raise click.BadParameter("say what was done, e.g. --note \"refunded on 30 Nov\"",
                                 param_hint="--note")
    done = ack_findings(app.config(), accounts, ids=ids, note=note or "", by=by,
                        from_file=from_file)
    extra = f"; {done.already} acknowledged with that note already" if done.already else ""
    _print_changed(app.out, "findings_ack", done.shown, "acknowledged", extra)


@findings.command("reopen")
@click.argument("ids", nargs=-1, required=True)
@click.option("--by", help="Who (default: your login name).")
@account_option("Findings")
@click.pass_obj
def reopen_command(app: AppContext, ids: tuple[str, ...], by: str | None,
                   accounts: tuple[str, ...]) -> None:
    """Withdraw the acknowledgement of findings: they are open again.

    \b
    Example:
      pik-recon findings reopen 3f9c2a1b7d04
    """
    from pik_recon.usecases.findings import reopen_findings

    done = reopen_findings(app.config(), accounts, ids=ids, by=by)
    _print_changed(app.out, "findings_reopen", done.shown, "reopened")

"""`pik-recon status`: the warehouse's last runs, freshness and open critical findings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from pik_recon.cli.common import AppContext, Output, account_option

if TYPE_CHECKING:
    from pik_recon.attention import Attention
    from pik_recon.status import Status
    from pik_recon.webhooks.status import WebhookStatus

SYNC_COLUMNS = ("run", "list", "mode", "started", "finished", "state", "spent", "verdict")
JOB_COLUMNS = ("run", "job", "trigger", "started", "finished", "outcome", "exit")
CRITICAL_COLUMNS = ("id", "category", "order", "link", "age days")
ACK_COLUMNS = ("id", "category", "order", "note", "by", "when")
WEBHOOK_COLUMNS = ("account", "last event", "loaded", "waiting in spool", "refused today",
                   "refused 7 days")


def _refused(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    return f"{total} ({', '.join(f'{r} {n}' for r, n in sorted(counts.items()))})" if total \
        else "0"


def _webhook_rows(hooks: tuple[WebhookStatus, ...]) -> list[tuple[Any, ...]]:
    return [(h.account, f"{h.last_event_at:%Y-%m-%d %H:%M:%S} UTC" if h.last_event_at
             else "none yet", h.loaded, h.waiting, _refused(h.rejected_today),
             _refused(h.rejected_week)) for h in hooks]


def _payload(state: Status) -> dict[str, Any]:
    return {
        "account": state.account,
        "syncs": [dict(zip(SYNC_COLUMNS, row, strict=True)) for row in state.syncs],
        "last_sync_at": state.last_sync_at, "stale": state.stale,
        "reconcile": state.reconcile,
        "last_syncs": {name: {"finished_at": last.finished_at, "verified": last.verified,
                              "verdict": last.verdict}
                       for name, last in state.last_syncs.items()},
        "open_findings": state.open_findings,
        "open_critical": [dict(zip(CRITICAL_COLUMNS, r, strict=True))
                          for r in state.open_critical],
        "acknowledged": [dict(zip(ACK_COLUMNS, r, strict=True)) for r in state.acknowledged]}


def _attention_payload(attention: Attention, accounts: list[str]) -> dict[str, Any]:
    reconciled = {account for account, _ in attention.runs}
    return {"critical": attention.count("critical"), "warning": attention.count("warning"),
            "at_stake": [{"currency": c, "findings": n, "amount": str(a)}
                         for c, n, a in attention.at_stake()],
            "not_known_for": [a for a in accounts if a not in reconciled]}


def _attention_text(attention: Attention, accounts: list[str], synced: bool) -> str:
    """What needs attention over every account shown: the same figure as a report's
    headline and a job's alert; never "nothing" for an account no reconciliation has
    judged."""
    from pik_recon.report.display import money

    reconciled = {account for account, _ in attention.runs}
    unknown = [a for a in accounts if a not in reconciled]
    if not reconciled:
        first = "pik-recon sync, then pik-recon reconcile" if not synced else "pik-recon reconcile"
        return f"needs attention: not known, no reconciliation has run yet (run {first})"
    critical, warning = attention.count("critical"), attention.count("warning")
    stake = ", ".join(money(a, c) for c, _, a in attention.at_stake())
    line = ("needs attention: nothing (no open critical or warning findings)"
            if not critical and not warning else
            f"needs attention: {critical} critical and {warning} warning open findings"
            + (f", {stake} at stake" if stake else ""))
    return line + (f"; not known for {', '.join(unknown)}: never reconciled" if unknown else "")


def _print_account(out: Output, state: Status, several: bool) -> None:
    whose = f" of account {state.account}" if several else ""
    if several:
        out.line(f"== account {state.account}")
    for name, last in state.last_syncs.items():
        if not last.verified:
            out.line(f"WARNING: the last sync{whose} could not verify the {name}: "
                     f"{last.verdict}")
    if state.last_sync_at is not None and state.stale:
        out.line(f"WARNING: the data{whose} is stale: the last sync finished "
                 f"{state.last_sync_at:%Y-%m-%d %H:%M} UTC")
    if not state.syncs:
        run = "pik-recon sync" + (f" --account {state.account}" if several else "")
        out.line(f"No sync{whose} has run yet: run `{run}`.")
    else:
        out.table(f"Sync runs{whose}", SYNC_COLUMNS, state.syncs, right=("run", "spent"))
    if state.last_sync_at is not None:
        age = datetime.now(UTC) - state.last_sync_at
        out.line(f"data freshness: last sync finished {state.last_sync_at:%Y-%m-%d %H:%M} UTC, "
                 f"{age.total_seconds() / 3600:.1f} h ago" + (" — STALE" if state.stale else ""))
    if state.reconcile is not None:
        run_id, as_of, orders, links, findings, _ = state.reconcile
        out.line(f"last reconciliation: run {run_id} as of {as_of}: {orders} orders, {links} "
                 f"links, {findings} findings ({state.open_findings} open, "
                 f"{findings - state.open_findings} acknowledged)")
    if state.open_critical:
        out.table(f"Open critical findings{whose} (first 20)", CRITICAL_COLUMNS,
                  state.open_critical, right=("age days",))
    if state.acknowledged:
        out.table(f"Acknowledged findings{whose} (first 20)", ACK_COLUMNS, state.acknowledged)


@click.command()
@account_option("Show the runs")
@click.pass_obj
def status(app: AppContext, accounts: tuple[str, ...]) -> None:
    """Show the last syncs, reconciliation and job runs, the data's freshness and the open
    critical findings, per account.

    \b
    Example:
      pik-recon status
      pik-recon status --account brand-a
    """
    from pik_recon.attention import Attention
    from pik_recon.usecases.status import status as read_status

    config = app.config()
    found = read_status(config, accounts)
    states, jobs, hooks = found.states, found.jobs, found.webhooks
    attention = found.attention or Attention((), ())
    names = [state.account for state in states]
    out = app.out
    out.result("status", {"accounts": [_payload(s) for s in states],
                          "needs_attention": _attention_payload(attention, names),
                          "jobs": [dict(zip(JOB_COLUMNS, row, strict=True)) for row in jobs],
                          "webhooks": [{"account": h.account, "last_event_at": h.last_event_at,
                                        "loaded": h.loaded, "unsigned": h.unsigned,
                                        "waiting": h.waiting,
                                        "refused_today": dict(h.rejected_today),
                                        "refused_7_days": dict(h.rejected_week)}
                                       for h in hooks]})
    if out.json:
        return
    several = len(config.account_names) > 1
    for state in states:
        _print_account(out, state, several)
    synced = any(state.last_sync_at is not None for state in states)
    out.line(_attention_text(attention, names, synced))
    if hooks:
        out.table("Webhook capture", WEBHOOK_COLUMNS, _webhook_rows(hooks),
                  right=("loaded", "waiting in spool"))
    if jobs:
        out.table("Job runs", JOB_COLUMNS, jobs, right=("run", "exit"))

"""The stages a job chains: each calls the same function as its command."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from pik_recon.config import Config, parse_formats
from pik_recon.errors import EXIT_OK, InputError, PikReconError
from pik_recon.export import export_parquet
from pik_recon.jobs import JobContext, Step, StepResult, seconds_since
from pik_recon.logs import get_logger
from pik_recon.orders import load_orders
from pik_recon.outcome import exit_code_of, failures_error, findings_exit_code
from pik_recon.reconcile import reconcile, require_synced
from pik_recon.report import write_report
from pik_recon.sync import sync_accounts
from pik_recon.warehouse import Warehouse
from pik_recon.webhooks.load import load_before_sync
from pik_recon.whenparse import parse_when

log = get_logger("steps")


def _finish(name: str, started: datetime, context: JobContext, ran: list[str],
            counts: dict[str, dict[str, Any]], failures: list[tuple[str, Exception]],
            outcome: str = "ok", code: int = EXIT_OK) -> StepResult:
    """The step's result over its accounts: counts flat for one account, by account for
    several. Accounts that failed are left out of the later steps; a step all of whose
    accounts failed raises (the job stops), one where some failed is "partly failed"."""
    flat = counts[ran[0]] if len(ran) == 1 and ran[0] in counts else counts
    error = failures_error(failures, len(ran))
    if error is None:
        return StepResult(name, outcome, code, seconds_since(started), flat)
    if len(failures) == len(ran):
        raise error
    failed = {account for account, _ in failures}
    context.accounts = [a for a in context.accounts if a not in failed]
    return StepResult(name, "partly failed", max(code, exit_code_of(error)),
                      seconds_since(started), flat, error=str(error))


def sync_step(config: Config, step: Step, context: JobContext) -> StepResult:
    started = datetime.now(UTC)
    ran = context.accounts_for(step)
    load_before_sync(config, ran)
    outcomes = sync_accounts(config.scoped(ran), full=bool(step.options.get("full", False)))
    counts, failures = {}, []
    for outcome in outcomes:
        if outcome.results:
            counts[outcome.account] = {
                r.resource: {"verified": r.verified, "new": r.new, "changed": r.changed,
                             "quarantined": r.quarantined, "requests": r.requests.as_dict()}
                for r in outcome.results}
        failure = outcome.failure()
        if failure is not None:
            failures.append((outcome.account, failure))
    return _finish("sync", started, context, ran, counts, failures)


def newest_orders_file(pattern: str) -> Path:
    """The most recently modified file matching a glob (a drop folder)."""
    folder, name = Path(pattern).parent, Path(pattern).name
    if not folder.is_dir():
        raise InputError(f"orders_glob {pattern}: the folder {folder} does not exist; create "
                         "it and drop the shop's orders exports there, or change orders_glob "
                         "in the job file")
    matches = [p for p in folder.glob(name) if p.is_file()]
    if not matches:
        raise InputError(f"orders_glob {pattern}: no file in {folder} matches {name}; drop "
                         "the shop's orders export there")
    return max(matches, key=lambda p: (p.stat().st_mtime, p.name))


def _orders_file(options: dict[str, Any], account: str) -> Path | None:
    if "orders" in options:
        return Path(options["orders"].format(account=account))
    if "orders_glob" in options:
        return newest_orders_file(options["orders_glob"].format(account=account))
    return None


def reconcile_step(config: Config, step: Step, context: JobContext) -> StepResult:
    started = datetime.now(UTC)
    options = step.options
    ran = context.accounts_for(step)
    as_of = parse_when(options["as_of"], now=context.now) if "as_of" in options else None
    counts: dict[str, dict[str, Any]] = {}
    failures: list[tuple[str, Exception]] = []
    with Warehouse.open(config.db_path, wait_seconds=60) as wh:
        for account in ran:
            scoped = config.for_account(account)
            found: dict[str, Any] = {}
            try:
                require_synced(wh, account)
                orders = _orders_file(options, account)
                if orders is not None:
                    loaded = load_orders(wh, orders, scoped.orders, account=account)
                    found.update(orders_file=str(orders), orders_loaded=loaded.loaded,
                                 rows_rejected=loaded.rejected)
                matched = reconcile(wh, config.matching, as_of, account=account)
            except PikReconError as exc:
                failures.append((account, exc))
                continue
            context.result.critical_findings += matched.open_by_severity.get("critical", 0)
            context.result.warning_findings += matched.open_by_severity.get("warning", 0)
            found.update(run=matched.run_id, findings=matched.findings,
                         open_critical=matched.open_by_severity.get("critical", 0))
            counts[account] = found
    return _finish("reconcile", started, context, ran, counts, failures)


def report_step(config: Config, step: Step, context: JobContext) -> StepResult:
    """One report of the step's accounts together, or one per account when `out` holds
    {account}."""
    started = datetime.now(UTC)
    options = step.options
    zone = ZoneInfo(context.job.timezone)
    since = parse_when(str(options.get("since", "1d")), now=context.now, tz=zone)
    until = (parse_when(str(options["until"]), now=context.now, tz=zone)
             if "until" in options else context.now)
    pattern = str(options.get("out", "./reports/{date}"))
    date = context.now.astimezone(zone).strftime("%Y-%m-%d")
    formats = parse_formats(options["formats"]) if "formats" in options else (
        config.report.formats)
    ran = context.accounts_for(step)
    groups = [[a] for a in ran] if "{account}" in pattern else [ran]
    context.result.fail_on = options.get("fail_on", "never")
    code, counts, worst = EXIT_OK, {}, []
    with Warehouse.open(config.db_path, read_only=True,
                        wait_seconds=config.report.wait_seconds) as wh:
        for accounts in groups:
            out = Path(pattern.format(date=date, account=accounts[0]))
            data = write_report(wh, config.report, accounts=accounts, since=since,
                                until=until, out=out, formats=formats, now=context.now,
                                out_named=f"{context.job.path or context.job.name} report out")
            context.result.report_dir = out
            worst.append(data.worst_open_severity())
            for account in accounts:
                counts[account] = {"out": str(out)}
            counts[accounts[0]]["findings"] = data.findings_total
    for severity in worst:
        code = max(code, findings_exit_code(severity, context.result.fail_on))
    return _finish("report", started, context, ran, counts, [],
                   "attention" if code else "ok", code)


def export_step(config: Config, step: Step, context: JobContext) -> StepResult:
    started = datetime.now(UTC)
    ran = context.accounts_for(step)
    with Warehouse.open(config.db_path, read_only=True,
                        wait_seconds=config.report.wait_seconds) as wh:
        done = export_parquet(wh, Path(step.options["dir"]), accounts=ran,
                              tables=step.options.get("tables"), now=context.now)
    counts = {"dir": step.options["dir"], "partitions_written": done.written,
              "partitions_kept": done.kept, "rows": done.rows}
    return StepResult("export", "ok", EXIT_OK, seconds_since(started), counts)


def notify_step(config: Config, step: Step, context: JobContext) -> StepResult:
    """Tell the webhook on failure or critical findings; a dead receiver is only logged."""
    started = datetime.now(UTC)
    when = set(step.options.get("when", ["failure", "critical"]))
    result = context.result
    failed = any(s.outcome == "failed" for s in result.steps)
    due = ("failure" in when and failed) or ("critical" in when and result.critical_findings)
    if not due:
        return StepResult("notify", "not needed", EXIT_OK, seconds_since(started))
    if not config.notify.webhook_url:
        log.info("job %s: nothing to notify to (no [notify] webhook_url)", context.job.name)
        return StepResult("notify", "no webhook configured", EXIT_OK,
                          seconds_since(started))
    payload = {"text": context.result.summary_text(), **context.result.payload()}
    outcome = "sent" if send_webhook(config, payload) else "not delivered"
    return StepResult("notify", outcome, EXIT_OK, seconds_since(started))


def send_webhook(config: Config, payload: dict[str, Any]) -> bool:
    """POST the JSON payload with bounded retries; never raises."""
    settings = config.notify
    host = httpx.URL(settings.webhook_url).host  # the URL may hold a token: log the host only
    try:
        for attempt in Retrying(stop=stop_after_attempt(settings.retries + 1),
                                wait=wait_exponential(multiplier=0.5, max=5),
                                retry=retry_if_exception_type(httpx.HTTPError), reraise=True):
            with attempt:
                response = httpx.post(settings.webhook_url, json=payload,
                                      timeout=settings.timeout_seconds)
                response.raise_for_status()
        log.info("notification sent to %s", host)
        return True
    except httpx.HTTPError as exc:
        log.warning("notification to %s not delivered after %d attempts: %s", host,
                    settings.retries + 1, type(exc).__name__)
        return False


RUNNERS = {"sync": sync_step, "reconcile": reconcile_step, "report": report_step,
           "export": export_step, "notify": notify_step}

"""The steps a job chains: each calls the use case its command calls and records its outcome.

A step's exit code is its outcome's; an account that failed is left out of the steps after
it (the step is "partly failed"), and a step all of whose accounts failed fails the job.
What needs attention comes from the reconcile and report steps' outcomes, so the job's
headline, exit code and notification read the same figures as the report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from pik_recon.config import Config
from pik_recon.config_values import parse_formats
from pik_recon.errors import EXIT_FINDINGS, EXIT_OK, InputError, PikReconError
from pik_recon.jobs.definition import Step
from pik_recon.jobs.runner import JobContext, StepResult, seconds_since
from pik_recon.logs import get_logger
from pik_recon.usecases.export import export_parquet
from pik_recon.usecases.outcome import Outcome
from pik_recon.usecases.reconcile import reconcile
from pik_recon.usecases.report import report
from pik_recon.usecases.sync import sync
from pik_recon.whenparse import parse_when

log = get_logger("steps")


def step_result(name: str, started: datetime, context: JobContext, outcome: Outcome
                ) -> StepResult:
    """The step as its outcome says: counts flat for one account, by account for several.
    Accounts that failed are left out of the later steps; a step all of whose accounts
    failed fails (the job stops; what was done is still counted), one where some failed is
    "partly failed"."""
    counts = outcome.counts()
    flat = counts[outcome.accounts[0]] if len(outcome.accounts) == 1 and (
        outcome.accounts[0] in counts) else counts
    if outcome.attention is not None:
        context.result.attention = outcome.attention
    error = outcome.error
    if error is None:
        code = outcome.exit_code
        return StepResult(name, "attention" if code == EXIT_FINDINGS else "ok", code,
                          seconds_since(started), flat)
    if len(outcome.failures) == len(outcome.accounts):
        if not isinstance(error, PikReconError):
            raise error  # a bug: the runner records it as one
        log.error("job %s: step %s failed: %s", context.job.name, name, error)
        return StepResult(name, "failed", outcome.exit_code, seconds_since(started), flat,
                          error=str(error))
    context.accounts = [a for a in context.accounts if a not in outcome.failed]
    return StepResult(name, "partly failed", outcome.exit_code, seconds_since(started), flat,
                      error=str(error))


def sync_step(config: Config, step: Step, context: JobContext) -> StepResult:
    started = datetime.now(UTC)
    outcome = sync(config, context.accounts_for(step),
                   full=bool(step.options.get("full", False)))
    return step_result("sync", started, context, outcome)


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
    as_of = (parse_when(str(options["as_of"]), now=context.now,
                        tz=ZoneInfo(context.job.timezone)) if "as_of" in options else None)
    outcome = reconcile(config, context.accounts_for(step), as_of=as_of,
                        orders=lambda account: _orders_file(options, account))
    return step_result("reconcile", started, context, outcome)


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
    formats = parse_formats(options["formats"]) if "formats" in options else None
    fail_on = str(options.get("fail_on", "never"))
    context.result.fail_on = fail_on
    outcome = report(
        config, context.accounts_for(step), since=since, until=until,
        out=((lambda account: Path(pattern.format(date=date, account=account)))
             if "{account}" in pattern else Path(pattern.format(date=date))),
        formats=formats, fail_on=fail_on, now=context.now,
        out_named=f"{context.job.path or context.job.name} report out")
    context.result.report_dir, context.result.report = outcome.reports[-1]
    return step_result("report", started, context, outcome)


def export_step(config: Config, step: Step, context: JobContext) -> StepResult:
    started = datetime.now(UTC)
    outcome = export_parquet(config, Path(step.options["dir"]), context.accounts_for(step),
                             tables=step.options.get("tables", ()), now=context.now)
    return step_result("export", started, context, outcome)


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

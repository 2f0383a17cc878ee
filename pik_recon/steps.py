"""The stages a job chains: each calls the same function as its command."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from pik_recon.config import Config, parse_formats
from pik_recon.errors import EXIT_OK, InputError
from pik_recon.jobs import JobContext, Step, StepResult, seconds_since
from pik_recon.logs import get_logger
from pik_recon.orders import load_orders
from pik_recon.outcome import findings_exit_code, require_verified
from pik_recon.reconcile import reconcile, require_synced
from pik_recon.report import write_report
from pik_recon.sync import sync_links
from pik_recon.warehouse import Warehouse
from pik_recon.whenparse import parse_when

log = get_logger("steps")


def sync_step(config: Config, step: Step, context: JobContext) -> StepResult:
    started = datetime.now(UTC)
    result = sync_links(config, full=bool(step.options.get("full", False)))
    counts = {"new": result.new, "changed": result.changed, "quarantined": result.quarantined,
              "requests": result.requests}
    require_verified(result)
    return StepResult("sync", "ok", EXIT_OK, seconds_since(started), counts)


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


def reconcile_step(config: Config, step: Step, context: JobContext) -> StepResult:
    started = datetime.now(UTC)
    options = step.options
    orders = (Path(options["orders"]) if "orders" in options
              else newest_orders_file(options["orders_glob"]) if "orders_glob" in options
              else None)
    counts: dict[str, Any] = {}
    with Warehouse.open(config.db_path, wait_seconds=60) as wh:
        require_synced(wh)
        if orders is not None:
            loaded = load_orders(wh, orders, config.orders)
            counts.update(orders_file=str(orders), orders_loaded=loaded.loaded,
                          rows_rejected=loaded.rejected)
        as_of = parse_when(options["as_of"], now=context.now) if "as_of" in options else None
        matched = reconcile(wh, config.matching, as_of)
    context.result.critical_findings = matched.open_by_severity.get("critical", 0)
    context.result.warning_findings = matched.open_by_severity.get("warning", 0)
    counts.update(run=matched.run_id, findings=matched.findings,
                  open_critical=matched.open_by_severity.get("critical", 0))
    return StepResult("reconcile", "ok", EXIT_OK, seconds_since(started), counts)


def report_step(config: Config, step: Step, context: JobContext) -> StepResult:
    started = datetime.now(UTC)
    options = step.options
    zone = ZoneInfo(context.job.timezone)
    since = parse_when(str(options.get("since", "1d")), now=context.now, tz=zone)
    until = (parse_when(str(options["until"]), now=context.now, tz=zone)
             if "until" in options else context.now)
    out = Path(str(options.get("out", "./reports/{date}")).format(
        date=context.now.astimezone(zone).strftime("%Y-%m-%d")))
    formats = parse_formats(options["formats"]) if "formats" in options else (
        config.report.formats)
    with Warehouse.open(config.db_path, read_only=True,
                        wait_seconds=config.report.wait_seconds) as wh:
        data = write_report(wh, config.report, since=since, until=until, out=out,
                            formats=formats, now=context.now,
                            out_named=f"{context.job.path or context.job.name} report out")
    context.result.report_dir = out
    context.result.fail_on = options.get("fail_on", "never")
    code = findings_exit_code(data.worst_open_severity(), context.result.fail_on)
    return StepResult("report", "attention" if code else "ok", code, seconds_since(started),
                      {"out": str(out), "findings": data.findings_total})


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
           "notify": notify_step}

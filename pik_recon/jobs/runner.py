"""Running a job: its steps in order under the job's lock, each outcome recorded in job_runs.

An account that fails a step is left out of the steps after it; the other accounts go on.
What needs attention comes from the steps' outcomes (reconcile, report), computed once.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pik_recon.attention import Attention
from pik_recon.config import Config
from pik_recon.errors import EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, Interrupted, PikReconError
from pik_recon.jobs.definition import Job, Step, check_accounts, step_accounts
from pik_recon.locks import held
from pik_recon.logs import get_logger
from pik_recon.report.figures import ReportData
from pik_recon.usecases.common import open_for_writing
from pik_recon.usecases.outcome import attention_line

log = get_logger("jobs")


@dataclass
class StepResult:
    step: str
    outcome: str
    exit_code: int
    seconds: float
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class JobResult:
    run_id: int
    job: str
    exit_code: int = EXIT_OK
    outcome: str = "ok"
    steps: list[StepResult] = field(default_factory=list)
    # what needs attention, from the last step that computed it (reconcile, report): the
    # same figures as that step's exit code and the report's headline
    attention: Attention | None = None
    fail_on: str = "never"  # the report step's
    report_dir: Path | None = None
    report: ReportData | None = None  # the report step's figures (its last report)

    @property
    def critical_findings(self) -> int:
        """Open critical findings of the last reconciliations: acknowledged ones need
        nobody."""
        return self.attention.count("critical") if self.attention is not None else 0

    @property
    def warning_findings(self) -> int:
        return self.attention.count("warning") if self.attention is not None else 0

    def payload(self) -> dict[str, Any]:
        """The run as data: for the webhook and for --log-format json."""
        failed = any(s.outcome == "failed" for s in self.steps)
        return {"job": self.job, "run_id": self.run_id,
                "outcome": "failed" if failed else self.outcome, "exit_code": self.exit_code,
                "critical_findings": self.critical_findings,
                "warning_findings": self.warning_findings,
                "report_dir": str(self.report_dir) if self.report_dir else None,
                "steps": [{"step": s.step, "outcome": s.outcome, "exit_code": s.exit_code,
                           "counts": s.counts, "error": s.error} for s in self.steps]}

    def headline(self) -> str:
        """What happened, what needs doing, and why the exit code is what it is."""
        if self.outcome in ("failed", "interrupted"):
            errors = [s.error for s in self.steps if s.error]
            return (f"{self.outcome}, exit {self.exit_code}"
                    + (f": {errors[0]}" if errors else ""))
        return attention_line(self.critical_findings, self.warning_findings, self.exit_code,
                              self.fail_on, option="the report step's fail_on")

    def summary_text(self) -> str:
        lines = [f"pik-recon job {self.job} (run {self.run_id}): {self.headline()}"]
        for step in self.steps:
            counts = _counts_text(step.counts)
            lines.append(f"- {step.step}: {step.outcome}" + (f" ({counts})" if counts else "")
                         + (f": {step.error}" if step.error else ""))
        return "\n".join(lines)


def _counts_text(counts: dict[str, Any]) -> str:
    """"new 3, changed 1"; by account "brand-a: new 3; brand-b: new 0"."""
    if any(isinstance(v, dict) for v in counts.values()):
        return "; ".join(f"{k}: {_counts_text(v)}" for k, v in counts.items())
    return ", ".join(f"{k} {v}" for k, v in counts.items())


StepRunner = Callable[[Config, Step, "JobContext"], StepResult]


@dataclass
class JobContext:
    job: Job
    result: JobResult
    now: datetime
    stop: threading.Event
    accounts: list[str] = field(default_factory=list)  # those no step has failed for

    def accounts_for(self, step: Step) -> list[str]:
        return step_accounts(self.job, step, self.accounts)


def _record_start(config: Config, job: Job, trigger: str, accounts: list[str]) -> int:
    with open_for_writing(config) as wh:
        run_id = wh.next_id("job_runs_seq")
        wh.execute("UPDATE job_runs SET outcome = 'interrupted', finished_at = now() "
                   "WHERE job = ? AND outcome = 'running'", [job.name])
        wh.execute("INSERT INTO job_runs (id, job, accounts, trigger, host, pid, started_at, "
                   "outcome) VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
                   [run_id, job.name, accounts, trigger, socket.gethostname(), os.getpid(),
                    datetime.now(UTC)])
    return run_id


def _record_end(config: Config, result: JobResult, error: str | None) -> None:
    steps = json.dumps([vars(s) for s in result.steps], default=str)
    with open_for_writing(config) as wh:
        wh.execute("UPDATE job_runs SET finished_at = ?, outcome = ?, exit_code = ?, steps = ?,"
                   " error = ? WHERE id = ?",
                   [datetime.now(UTC), result.outcome, result.exit_code, steps, error,
                    result.run_id])


def job_lock(db_path: Path, job: str) -> contextlib.AbstractContextManager[None]:
    """One run of a job at a time, whoever starts it: `.<warehouse>.locks/<job>.lock`."""
    path = db_path.parent / f".{db_path.name}.locks" / f"{job}.lock"
    return held(path, "the job's lock file", lambda holder: (
        f"job {job!r} is already running: {holder}; lock file {path}"),
        "the jobs' lock folder")


def run_job(config: Config, job: Job, runners: dict[str, StepRunner], *,
            trigger: str = "manual", stop: threading.Event | None = None) -> JobResult:
    """Run the job's steps in order under its lock; the worst step sets the exit code.

    After a failed step the remaining steps are skipped, except notify; a step that failed
    for some accounts only ("partly failed") leaves those out of the steps after it. When
    `stop` is set (SIGTERM), the running step finishes and the rest are skipped; Ctrl-C
    stops the running step, and the rest are skipped (exit 130).
    """
    stop = stop or threading.Event()
    check_accounts(job, config.account_names)
    accounts = [n for n in config.account_names if not job.accounts or n in job.accounts]
    with job_lock(config.db_path, job.name):
        result = JobResult(_record_start(config, job, trigger, accounts), job.name)
        context = JobContext(job, result, datetime.now(UTC), stop, accounts)
        error = None
        halted = False
        for step in job.steps:
            if stop.is_set():
                result.outcome, error = "interrupted", "stopped by a signal"
                result.exit_code = max(result.exit_code, 4)
                break
            if halted and step.type != "notify":
                result.steps.append(StepResult(step.type, "skipped", 0, 0.0))
                continue
            outcome = _run_step(config, step, context, runners)
            result.steps.append(outcome)
            result.exit_code = max(result.exit_code, outcome.exit_code)
            if outcome.outcome == "interrupted":
                result.outcome, error = "interrupted", outcome.error
                break
            if outcome.outcome in ("failed", "partly failed"):
                halted = halted or outcome.outcome == "failed"
                result.outcome, error = "failed", error or outcome.error
            elif result.exit_code == EXIT_FINDINGS and result.outcome == "ok":
                result.outcome = "attention"
        _record_end(config, result, error)
    return result


def _run_step(config: Config, step: Step, context: JobContext,
              runners: dict[str, StepRunner]) -> StepResult:
    started = datetime.now(UTC)
    try:
        return runners[step.type](config, step, context)
    except KeyboardInterrupt as exc:  # Ctrl-C, or a signal the step stopped on (Interrupted)
        stopped = exc if isinstance(exc, Interrupted) else Interrupted()
        log.warning("job %s: step %s %s", context.job.name, step.type, stopped)
        return StepResult(step.type, "interrupted", stopped.exit_code, seconds_since(started),
                          error=str(stopped))
    except PikReconError as exc:
        log.error("job %s: step %s failed: %s", context.job.name, step.type, exc)
        return StepResult(step.type, "failed", exc.exit_code, seconds_since(started),
                          error=str(exc))
    except Exception as exc:  # a bug in a step must not leave the run unrecorded
        log.exception("job %s: step %s crashed", context.job.name, step.type)
        return StepResult(step.type, "failed", EXIT_INTERNAL, seconds_since(started),
                          error=f"internal error: {exc}")


def seconds_since(started: datetime) -> float:
    return round((datetime.now(UTC) - started).total_seconds(), 3)

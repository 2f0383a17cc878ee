"""Jobs: definitions from jobs/*.toml, a lock across processes, steps run in order, history.

A job is data: a schedule and steps (sync, reconcile, report, notify). `run_job` runs the
steps one by one — each stage callable alone — and records the run in `job_runs`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from pik_recon.config import Config, read_toml
from pik_recon.errors import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_OK,
    ConfigError,
    LockHeldError,
    PikReconError,
)
from pik_recon.logs import get_logger
from pik_recon.warehouse import Warehouse

log = get_logger("jobs")
STEP_TYPES = ("sync", "reconcile", "report", "notify")
STEP_KEYS = {
    "sync": {"full"},
    "reconcile": {"orders", "orders_glob", "as_of"},
    "report": {"since", "until", "out", "formats", "fail_on"},
    "notify": {"when"},
}


@dataclass(frozen=True)
class Step:
    type: str
    options: dict[str, Any]


@dataclass(frozen=True)
class Job:
    name: str
    path: Path | None
    cron: str
    timezone: str
    steps: tuple[Step, ...]
    description: str = ""
    every_seconds: int | None = None

    def trigger(self) -> CronTrigger | IntervalTrigger:
        if self.every_seconds:
            return IntervalTrigger(seconds=self.every_seconds, timezone=ZoneInfo(self.timezone))
        return CronTrigger.from_crontab(self.cron, timezone=ZoneInfo(self.timezone))


def parse_job(name: str, raw: dict[str, Any], path: Path | None = None) -> Job:
    """Check a job definition; a mistake names the file and the key."""
    where = str(path or name)
    unknown = set(raw) - {"description", "schedule", "steps"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: description, "
                          "schedule, steps")
    schedule = raw.get("schedule", {})
    cron, zone = schedule.get("cron", ""), schedule.get("timezone", "UTC")
    every = schedule.get("every_seconds")
    try:
        ZoneInfo(zone)
        if every is None:
            CronTrigger.from_crontab(cron, timezone=ZoneInfo(zone))
        elif not isinstance(every, int) or every < 1:
            raise ValueError("every_seconds must be a whole number >= 1")
    except (ZoneInfoNotFoundError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{where}: [schedule] needs cron = \"m h dom mon dow\" (or "
                          f"every_seconds = N) and a time zone name ({exc})") from None
    steps = []
    for i, item in enumerate(raw.get("steps", []), start=1):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind not in STEP_TYPES:
            raise ConfigError(f"{where}: step {i} type {kind!r}; expected one of "
                              f"{', '.join(STEP_TYPES)}")
        extra = set(item) - {"type"} - STEP_KEYS[kind]
        if extra:
            raise ConfigError(f"{where}: step {i} ({kind}) has unknown key(s) {sorted(extra)}; "
                              f"allowed: {', '.join(sorted(STEP_KEYS[kind]))}")
        steps.append(Step(kind, {k: v for k, v in item.items() if k != "type"}))
    if not steps:
        raise ConfigError(f"{where}: no [[steps]]")
    return Job(name, path, cron, zone, tuple(steps), str(raw.get("description", "")), every)


def find_job(name_or_path: str, jobs_dir: Path) -> Job:
    path = Path(name_or_path)
    if not path.suffix:
        path = jobs_dir / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in jobs_dir.glob("*.toml"))) or "none"
        raise ConfigError(f"no job {name_or_path!r} ({path} does not exist); jobs in "
                          f"{jobs_dir}: {known}")
    return parse_job(path.stem, read_toml(path), path)


def all_jobs(jobs_dir: Path) -> list[Job]:
    return [parse_job(p.stem, read_toml(p), p) for p in sorted(jobs_dir.glob("*.toml"))]


# --- the lock ------------------------------------------------------------------------------
@contextlib.contextmanager
def job_lock(db_path: Path, job: str) -> Iterator[None]:
    """One run of a job at a time, whoever starts it. The kernel drops the lock with its
    process, so a lock left by a killed run is simply taken by the next one."""
    folder = db_path.parent / f".{db_path.name}.locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job}.lock"
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 4096, 0).decode("utf-8", "replace")
            raise LockHeldError(f"job {job!r} is already running: {_describe(holder)}; "
                                f"lock file {path}") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds")}
        os.ftruncate(handle, 0)
        os.pwrite(handle, json.dumps(info).encode(), 0)
        yield
    finally:
        os.close(handle)


def _describe(holder: str) -> str:
    try:
        info = json.loads(holder)
        return f"pid {info['pid']} on {info['host']} since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"


# --- running -------------------------------------------------------------------------------
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
    critical_findings: int = 0
    report_dir: Path | None = None

    def summary_text(self) -> str:
        lines = [f"pik-recon job {self.job} (run {self.run_id}): {self.outcome}, exit "
                 f"{self.exit_code}"]
        for step in self.steps:
            counts = ", ".join(f"{k} {v}" for k, v in step.counts.items())
            lines.append(f"- {step.step}: {step.outcome}" + (f" ({counts})" if counts else "")
                         + (f": {step.error}" if step.error else ""))
        if self.critical_findings:
            lines.append(f"{self.critical_findings} critical findings need attention")
        return "\n".join(lines)


StepRunner = Callable[[Config, Step, "JobContext"], StepResult]


@dataclass
class JobContext:
    job: Job
    result: JobResult
    now: datetime
    stop: threading.Event


def _record_start(config: Config, job: Job, trigger: str) -> int:
    with Warehouse.open(config.db_path, wait_seconds=60) as wh:
        run_id = wh.next_id("job_runs_seq")
        wh.execute("UPDATE job_runs SET outcome = 'interrupted', finished_at = now() "
                   "WHERE job = ? AND outcome = 'running'", [job.name])
        wh.execute("INSERT INTO job_runs (id, job, trigger, host, pid, started_at, outcome) "
                   "VALUES (?, ?, ?, ?, ?, ?, 'running')",
                   [run_id, job.name, trigger, socket.gethostname(), os.getpid(),
                    datetime.now(UTC)])
    return run_id


def _record_end(config: Config, result: JobResult, error: str | None) -> None:
    steps = json.dumps([vars(s) for s in result.steps], default=str)
    with Warehouse.open(config.db_path, wait_seconds=60) as wh:
        wh.execute("UPDATE job_runs SET finished_at = ?, outcome = ?, exit_code = ?, steps = ?,"
                   " error = ? WHERE id = ?",
                   [datetime.now(UTC), result.outcome, result.exit_code, steps, error,
                    result.run_id])


def run_job(config: Config, job: Job, runners: dict[str, StepRunner], *,
            trigger: str = "manual", stop: threading.Event | None = None) -> JobResult:
    """Run the job's steps in order under its lock; the worst step sets the exit code.

    After a failed step the remaining steps are skipped, except notify. When `stop` is set
    (SIGTERM), the running step finishes and the rest are skipped.
    """
    stop = stop or threading.Event()
    with job_lock(config.db_path, job.name):
        result = JobResult(_record_start(config, job, trigger), job.name)
        context = JobContext(job, result, datetime.now(UTC), stop)
        error = None
        for step in job.steps:
            if stop.is_set():
                result.outcome, error = "interrupted", "stopped by a signal"
                result.exit_code = max(result.exit_code, 4)
                break
            if result.outcome == "failed" and step.type != "notify":
                result.steps.append(StepResult(step.type, "skipped", 0, 0.0))
                continue
            outcome = _run_step(config, step, context, runners)
            result.steps.append(outcome)
            result.exit_code = max(result.exit_code, outcome.exit_code)
            if outcome.outcome == "failed":
                result.outcome, error = "failed", outcome.error
            elif result.exit_code == EXIT_FINDINGS and result.outcome == "ok":
                result.outcome = "attention"
        _record_end(config, result, error)
    return result


def _run_step(config: Config, step: Step, context: JobContext,
              runners: dict[str, StepRunner]) -> StepResult:
    started = datetime.now(UTC)
    try:
        return runners[step.type](config, step, context)
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


def last_runs(warehouse: Warehouse, limit: int = 10) -> list[tuple[Any, ...]]:
    return warehouse.fetchall(
        "SELECT id, job, trigger, strftime(started_at, '%Y-%m-%d %H:%M:%S'), "
        "strftime(finished_at, '%Y-%m-%d %H:%M:%S'), outcome, exit_code FROM job_runs "
        "ORDER BY id DESC LIMIT ?", [limit])


def last_started(warehouse: Warehouse, job: str) -> datetime | None:
    row = warehouse.fetchone("SELECT max(started_at) FROM job_runs WHERE job = ?", [job])
    return row[0] if row else None

"""Jobs: definitions from jobs/*.toml, a lock across processes, steps run in order, history.

A job is data: a schedule and steps (sync, reconcile, report, export, notify), for every
account of the config or those it names. `run_job` runs the steps one by one — each stage
callable alone — and records the run in `job_runs`. An account that fails a step is left out
of the steps after it; the other accounts go on.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from pik_recon.config import Config, parse_formats, read_toml
from pik_recon.errors import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_OK,
    ConfigError,
    Interrupted,
    LockHeldError,
    PikReconError,
)
from pik_recon.export import TABLES
from pik_recon.logs import get_logger
from pik_recon.outcome import FAIL_ON, attention_line
from pik_recon.paths import writing
from pik_recon.warehouse import Warehouse
from pik_recon.whenparse import ACCEPTED_FORMS, parse_when

log = get_logger("jobs")
STEP_TYPES = ("sync", "reconcile", "report", "export", "notify")
NOTIFY_WHEN = ("failure", "critical")


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "expected true or false"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "expected a non-empty string"


def _when(value: Any) -> str | None:
    try:
        parse_when(str(value), now=datetime.now(UTC))
    except ValueError:
        return f"not a time; accepted forms: {ACCEPTED_FORMS}"
    return None if isinstance(value, str) else f"expected a string, e.g. \"7d\" ({ACCEPTED_FORMS})"


def _placeholders(value: str, allowed: dict[str, str]) -> str | None:
    """What is wrong with the {...} placeholders in value; `allowed`: name -> meaning."""
    try:
        value.format(**{name: "x" for name in allowed})
    except (KeyError, IndexError, ValueError):
        if not allowed:
            return "no {...} placeholder may stand here"
        return "only " + " and ".join(f"{{{n}}} ({meaning})" for n, meaning in
                                      allowed.items()) + " may stand in braces"
    return None


def _out(value: Any) -> str | None:
    if _text(value):
        return "expected a folder, e.g. \"./reports/nightly/{date}\""
    return _placeholders(value, {"date": "the run's date", "account": "the account"})


def _orders_path(value: Any) -> str | None:
    if _text(value):
        return "expected a file or glob, e.g. \"./exports/{account}/orders-*.csv\""
    return _placeholders(value, {"account": "the account"})


def _export_dir(value: Any) -> str | None:
    if _text(value):
        return "expected a folder, e.g. \"./export\""
    return _placeholders(value, {})


def _names(value: Any) -> str | None:
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return None
    return "expected a list of account names, e.g. [\"brand-a\"]"


def _tables(value: Any) -> str | None:
    if isinstance(value, list) and value and all(v in TABLES for v in value):
        return None
    return f"expected a list of tables from {', '.join(TABLES)}"


def _formats(value: Any) -> str | None:
    try:
        parse_formats(value)
    except ConfigError as exc:
        return str(exc)
    return None


def _fail_on(value: Any) -> str | None:
    return None if value in FAIL_ON else f"expected one of {', '.join(FAIL_ON)}"


def _notify_when(value: Any) -> str | None:
    if isinstance(value, list) and value and all(v in NOTIFY_WHEN for v in value):
        return None
    return f"expected a list of {' and/or '.join(NOTIFY_WHEN)}, e.g. [\"failure\", \"critical\"]"


# Every key a step may have, and what its value must be: a checker returns what is wrong.
STEP_KEYS: dict[str, dict[str, Callable[[Any], str | None]]] = {
    "sync": {"full": _bool, "accounts": _names},
    "reconcile": {"orders": _orders_path, "orders_glob": _orders_path, "as_of": _when,
                  "accounts": _names},
    "report": {"since": _when, "until": _when, "out": _out, "formats": _formats,
               "fail_on": _fail_on, "accounts": _names},
    "export": {"dir": _export_dir, "tables": _tables, "accounts": _names},
    "notify": {"when": _notify_when},
}
REQUIRED_KEYS = {"export": ("dir",)}


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
    accounts: tuple[str, ...] = ()  # none: every account of the config

    def trigger(self) -> CronTrigger | IntervalTrigger:
        if self.every_seconds:
            return IntervalTrigger(seconds=self.every_seconds, timezone=ZoneInfo(self.timezone))
        return CronTrigger.from_crontab(self.cron, timezone=ZoneInfo(self.timezone))


def _schedule_problems(schedule: Any) -> list[str]:
    if not isinstance(schedule, dict):
        return ["[schedule] must be a table with cron (or every_seconds) and timezone"]
    problems = [f"[schedule] has unknown key {k!r}; allowed: cron, every_seconds, timezone"
                for k in schedule if k not in ("cron", "every_seconds", "timezone")]
    zone = schedule.get("timezone", "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems.append(f"[schedule] timezone = {zone!r}: not a time zone; use a name such as "
                        "\"UTC\" or \"Europe/Berlin\"")
        zone = "UTC"
    every = schedule.get("every_seconds")
    if every is not None:
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            problems.append(f"[schedule] every_seconds = {every!r}: expected a whole number "
                            ">= 1")
        return problems
    cron = schedule.get("cron")
    try:
        CronTrigger.from_crontab(cron, timezone=ZoneInfo(zone))
    except (ValueError, TypeError, AttributeError) as exc:
        problems.append(f"[schedule] cron = {cron!r}: expected five fields \"minute hour day "
                        f"month weekday\", e.g. \"30 2 * * *\" ({exc})")
    return problems


def _step_problems(number: int, item: Any) -> list[str]:
    kind = item.get("type") if isinstance(item, dict) else None
    if kind not in STEP_TYPES:
        return [f"step {number}: type = {kind!r}; expected one of {', '.join(STEP_TYPES)}"]
    keys, problems = STEP_KEYS[kind], []
    for key, value in item.items():
        if key == "type":
            continue
        if key not in keys:
            problems.append(f"step {number} ({kind}) has unknown key {key!r}; allowed: "
                            f"{', '.join(sorted(keys)) or 'none'}")
        elif (wrong := keys[key](value)) is not None:
            problems.append(f"step {number} ({kind}) {key} = {value!r}: {wrong}")
    if kind == "reconcile" and {"orders", "orders_glob"} <= set(item):
        problems.append(f"step {number} (reconcile) has both orders and orders_glob; give one")
    problems += [f"step {number} ({kind}) needs {key}" for key in REQUIRED_KEYS.get(kind, ())
                 if key not in item]
    return problems


def parse_job(name: str, raw: dict[str, Any], path: Path | None = None) -> Job:
    """Check a whole job definition, every value; all mistakes are named at once, with the
    file and the key, before anything runs."""
    problems = [f"unknown key {k!r}; allowed: accounts, description, schedule, steps"
                for k in raw if k not in ("accounts", "description", "schedule", "steps")]
    if "accounts" in raw and (wrong := _names(raw["accounts"])):
        problems.append(f"accounts = {raw['accounts']!r}: {wrong}")
    problems += _schedule_problems(raw.get("schedule", {}))
    items = raw.get("steps", [])
    if not isinstance(items, list) or not items:
        problems.append("no [[steps]]")
        items = []
    for number, item in enumerate(items, start=1):
        problems += _step_problems(number, item)
    if problems:
        where = str(path or name)
        raise ConfigError(f"{where}: {len(problems)} problem(s), nothing was run:\n"
                          + "\n".join(f"  {where}: {p}" for p in problems))
    schedule = raw.get("schedule", {})
    steps = tuple(Step(i["type"], {k: v for k, v in i.items() if k != "type"}) for i in items)
    return Job(name, path, schedule.get("cron", ""), schedule.get("timezone", "UTC"), steps,
               str(raw.get("description", "")), schedule.get("every_seconds"),
               tuple(raw.get("accounts", ())))


def step_accounts(job: Job, step: Step, names: Sequence[str]) -> list[str]:
    """The accounts a step runs for: the step's own list, else the job's, else `names` (every
    account of the config), in config order."""
    chosen = step.options.get("accounts") or job.accounts
    return [n for n in names if not chosen or n in chosen]


def account_problems(job: Job, names: Sequence[str]) -> list[str]:
    """What the job asks of the config's accounts that it does not have: unknown names, and
    one orders file (or report folder) for several accounts."""
    where = str(job.path or job.name)
    problems = [f"{where}: accounts: no account {n!r}; configured: {', '.join(names)}"
                for n in job.accounts if n not in names]
    for number, step in enumerate(job.steps, start=1):
        problems += [f"{where}: step {number} ({step.type}) accounts: no account {n!r}; "
                     f"configured: {', '.join(names)}"
                     for n in step.options.get("accounts", ()) if n not in names]
        covered = step_accounts(job, step, names)
        for key in ("orders", "orders_glob"):
            if key in step.options and len(covered) > 1 and (
                    "{account}" not in step.options[key]):
                problems.append(f"{where}: step {number} (reconcile) {key} = "
                                f"{step.options[key]!r} would load one shop's orders into "
                                f"{len(covered)} accounts ({', '.join(covered)}); put "
                                "{account} in the path, or give the step accounts = [...]")
    return problems


def check_accounts(job: Job, names: Sequence[str]) -> None:
    problems = account_problems(job, names)
    if problems:
        raise ConfigError(f"{len(problems)} problem(s), nothing was run:\n"
                          + "\n".join(f"  {p}" for p in problems))


def job_warnings(job: Job, names: Sequence[str]) -> list[str]:
    """What would fail when the job runs although its values are right: files not there."""
    warnings = []
    for number, step in enumerate(job.steps, start=1):
        for account in step_accounts(job, step, names):
            if "orders_glob" in step.options:
                folder = Path(step.options["orders_glob"].format(account=account)).parent
                if not folder.is_dir():
                    warnings.append(f"step {number} (reconcile) orders_glob: the folder "
                                    f"{folder} does not exist yet; create it and drop the "
                                    "shop's exports there")
            if "orders" in step.options:
                orders = step.options["orders"].format(account=account)
                if not Path(orders).is_file():
                    warnings.append(f"step {number} (reconcile) orders: {orders} does not "
                                    "exist")
    return list(dict.fromkeys(warnings))


def next_run(job: Job, now: datetime) -> datetime | None:
    return job.trigger().get_next_fire_time(None, now.astimezone(ZoneInfo(job.timezone)))


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
    """Every job of the folder, each checked whole; the problems of all files at once."""
    jobs, problems = [], []
    for path in sorted(jobs_dir.glob("*.toml")):
        try:
            jobs.append(parse_job(path.stem, read_toml(path), path))
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems))
    return jobs


# --- the lock ------------------------------------------------------------------------------
@contextlib.contextmanager
def job_lock(db_path: Path, job: str) -> Iterator[None]:
    """One run of a job at a time, whoever starts it. The kernel drops the lock with its
    process, so a lock left by a killed run is simply taken by the next one."""
    folder = db_path.parent / f".{db_path.name}.locks"
    path = folder / f"{job}.lock"
    with writing(folder, "the jobs' lock folder"):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 4096, 0).decode("utf-8", "replace")
            raise LockHeldError(f"job {job!r} is already running: {_describe(holder)}; "
                                f"lock file {path}") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds")}
        with writing(path, "the job's lock file"):
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
    critical_findings: int = 0  # open ones: acknowledged findings need nobody
    warning_findings: int = 0
    fail_on: str = "never"  # the report step's
    report_dir: Path | None = None

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
    """"new 3, changed 1"; nested, by account or by list: "brand-a: new 3; brand-b: new 0"."""
    parts = [f"{k}: {_counts_text(v)}" if isinstance(v, dict) else f"{k} {v}"
             for k, v in counts.items()]
    return ("; " if any(isinstance(v, dict) for v in counts.values()) else ", ").join(parts)


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
    with Warehouse.open(config.db_path, wait_seconds=60) as wh:
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
    with Warehouse.open(config.db_path, wait_seconds=60) as wh:
        wh.execute("UPDATE job_runs SET finished_at = ?, outcome = ?, exit_code = ?, steps = ?,"
                   " error = ? WHERE id = ?",
                   [datetime.now(UTC), result.outcome, result.exit_code, steps, error,
                    result.run_id])


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


def last_runs(warehouse: Warehouse, limit: int = 10) -> list[tuple[Any, ...]]:
    return warehouse.fetchall(
        "SELECT id, job, trigger, strftime(started_at, '%Y-%m-%d %H:%M:%S'), "
        "strftime(finished_at, '%Y-%m-%d %H:%M:%S'), outcome, exit_code FROM job_runs "
        "ORDER BY id DESC LIMIT ?", [limit])


def last_started(warehouse: Warehouse, job: str) -> datetime | None:
    row = warehouse.fetchone("SELECT max(started_at) FROM job_runs WHERE job = ?", [job])
    return row[0] if row else None

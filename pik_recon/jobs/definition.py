"""Jobs: definitions from jobs/*.toml, a lock across processes, steps run in order, history.

A job is data: a schedule and steps (sync, reconcile, report, export, notify), for every
account of the config or those it names. `run_job` runs the steps one by one — each stage
callable alone — and records the run in `job_runs`. An account that fails a step is left out
of the steps after it; the other accounts go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from pik_recon.categories import FAIL_ON
from pik_recon.config import read_toml
from pik_recon.config_values import Problems, parse_formats
from pik_recon.errors import ConfigError
from pik_recon.export import TABLES
from pik_recon.logs import get_logger
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
    problems = Problems(str(path or name))
    problems.extend(f"unknown key {k!r}; allowed: accounts, description, schedule, steps"
                    for k in raw if k not in ("accounts", "description", "schedule", "steps"))
    if "accounts" in raw and (wrong := _names(raw["accounts"])):
        problems.add(f"accounts = {raw['accounts']!r}: {wrong}")
    problems.extend(_schedule_problems(raw.get("schedule", {})))
    items = raw.get("steps", [])
    if not isinstance(items, list) or not items:
        problems.add("no [[steps]]")
        items = []
    for number, item in enumerate(items, start=1):
        problems.extend(_step_problems(number, item))
    problems.refuse()
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
    problems = Problems(None)
    problems.extend(account_problems(job, names))
    problems.refuse()


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

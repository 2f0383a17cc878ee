"""`pik-recon run` and `pik-recon scheduler`."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from pik_recon.cli.common import AppContext, Output
from pik_recon.errors import ConfigError

if TYPE_CHECKING:
    from pik_recon.config import Config
    from pik_recon.jobs.definition import Job
    from pik_recon.jobs.runner import JobResult


def print_job(out: Output, result: JobResult) -> None:
    out.result("job", result.payload())
    if out.json:
        return
    out.line(result.summary_text())
    if result.report_dir is not None:
        out.line(f"reports in {result.report_dir}")


@click.command("run")
@click.argument("job")
@click.option("--check", is_flag=True, help="Check the job file, every value, and run nothing.")
@click.pass_obj
def run_command(app: AppContext, job: str, check: bool) -> None:
    """Run one job from jobs/ now (what cron calls); exit code of its worst step. The job
    file is checked whole first: a bad value is exit 2 and nothing runs.

    \b
    Example:
      pik-recon run nightly --check
      pik-recon run nightly
    """
    from pik_recon.jobs.definition import find_job
    from pik_recon.jobs.runner import run_job
    from pik_recon.jobs.steps import RUNNERS

    config = app.config()
    definition = find_job(job, Path(config.jobs.dir))
    if check:
        _print_check(app.out, definition, config)
        return
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        result = run_job(config, definition, RUNNERS, trigger="manual", stop=stop)
    finally:
        signal.signal(signal.SIGTERM, previous)
    print_job(app.out, result)
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code)


def _print_check(out: Output, job: Job, config: Config) -> None:
    from pik_recon.jobs.definition import check_accounts, job_warnings, next_run

    check_accounts(job, config.account_names)
    coming = next_run(job, datetime.now(UTC))
    warnings = job_warnings(job, config.account_names)
    out.result("job_check", {"job": job.name, "file": str(job.path), "ok": True,
                             "description": job.description,
                             "steps": [s.type for s in job.steps], "next_run": coming,
                             "warnings": warnings})
    if out.json:
        return
    steps = ", ".join(s.type for s in job.steps)
    when = f"; next run {coming:%Y-%m-%d %H:%M} {job.timezone}" if coming else ""
    out.line(f"{job.path}: ok ({len(job.steps)} steps: {steps}){when}")
    if job.description:
        out.line(f"  {job.description}")
    for warning in warnings:
        out.line(f"warning: {job.path}: {warning}")


@click.command()
@click.pass_obj
def scheduler(app: AppContext) -> None:
    """Run every job in jobs/ on its schedule, in the foreground, until SIGTERM or Ctrl-C.

    \b
    Example:
      pik-recon --log-format json scheduler
    """
    from pik_recon.jobs.definition import account_problems, all_jobs
    from pik_recon.jobs.scheduler import run_scheduler
    from pik_recon.jobs.steps import RUNNERS

    config = app.config()
    jobs = all_jobs(Path(config.jobs.dir))
    if not jobs:
        raise click.UsageError(f"no jobs in {config.jobs.dir}")
    problems = [p for job in jobs for p in account_problems(job, config.account_names)]
    if problems:
        raise ConfigError(f"{len(problems)} problem(s), nothing was scheduled:\n"
                          + "\n".join(f"  {p}" for p in problems))
    run_scheduler(config, jobs, RUNNERS)

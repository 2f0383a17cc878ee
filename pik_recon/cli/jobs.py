"""`pik-recon run` and `pik-recon scheduler`."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from pik_recon.cli.common import AppContext, console
from pik_recon.jobs import JobResult, all_jobs, find_job, run_job
from pik_recon.scheduler import run_scheduler
from pik_recon.steps import RUNNERS


def print_job(result: JobResult) -> None:
    console.print(result.summary_text(), markup=False)
    if result.report_dir is not None:
        console.print(f"reports in {result.report_dir}")


@click.command("run")
@click.argument("job")
@click.pass_obj
def run_command(app: AppContext, job: str) -> None:
    """Run one job from jobs/ now (what cron calls); exit code of its worst step.

    \b
    Example:
      pik-recon run nightly
    """
    config = app.config()
    definition = find_job(job, Path(config.jobs.dir))
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        result = run_job(config, definition, RUNNERS, trigger="manual", stop=stop)
    finally:
        signal.signal(signal.SIGTERM, previous)
    print_job(result)
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code)


@click.command()
@click.pass_obj
def scheduler(app: AppContext) -> None:
    """Run every job in jobs/ on its schedule, in the foreground, until SIGTERM or Ctrl-C.

    \b
    Example:
      pik-recon --log-format json scheduler
    """
    config = app.config()
    jobs = all_jobs(Path(config.jobs.dir))
    if not jobs:
        raise click.UsageError(f"no jobs in {config.jobs.dir}")
    run_scheduler(config, jobs, RUNNERS)

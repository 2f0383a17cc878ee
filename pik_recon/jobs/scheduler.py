"""`pik-recon scheduler`: every job in jobs/ on its trigger, with APScheduler, in the foreground."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from pik_recon.config import Config
from pik_recon.errors import LockHeldError, PikReconError
from pik_recon.jobs.definition import Job
from pik_recon.jobs.runner import StepRunner, run_job
from pik_recon.logs import get_logger
from pik_recon.usecases.common import open_for_writing

log = get_logger("scheduler")


def missed(config: Config, job: Job, now: datetime) -> bool:
    """A scheduled time passed since the job last started (the machine was down)."""
    with open_for_writing(config) as wh:  # created when new: the job runs record here
        row = wh.fetchone("SELECT max(started_at) FROM job_runs WHERE job = ?", [job.name])
    last = row[0] if row else None
    if last is None:
        return False
    due = job.trigger().get_next_fire_time(None, last)
    return due is not None and due <= now


def _fire(config: Config, job: Job, runners: dict[str, StepRunner], trigger: str,
          stop: threading.Event) -> None:
    try:
        result = run_job(config, job, runners, trigger=trigger, stop=stop)
        log.info("job %s run %d: %s (exit %d)", job.name, result.run_id, result.outcome,
                 result.exit_code)
    except LockHeldError as exc:
        log.warning("%s; skipping this run", exc)
    except PikReconError as exc:
        log.error("job %s could not run: %s", job.name, exc)


def run_scheduler(config: Config, jobs: list[Job], runners: dict[str, StepRunner]) -> None:
    """Block until SIGTERM/SIGINT; then the running step finishes and the lock is released."""
    stop = threading.Event()
    scheduler = BlockingScheduler(timezone=UTC)
    now = datetime.now(UTC)
    for job in jobs:
        scheduler.add_job(_fire, job.trigger(), args=[config, job, runners, "scheduled", stop],
                          id=job.name, max_instances=1, coalesce=True,
                          misfire_grace_time=None)
        if missed(config, job, now):
            log.info("job %s missed a run while pik-recon was not running: running it now",
                     job.name)
            scheduler.add_job(_fire, args=[config, job, runners, "missed", stop],
                              id=f"{job.name}-missed", max_instances=1)
        log.info("job %s scheduled (%s)", job.name,
                 f"every {job.every_seconds} s" if job.every_seconds else
                 f"{job.cron} {job.timezone}")

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("stopping: the running step finishes, the rest of the job is skipped")
        stop.set()
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    scheduler.start()

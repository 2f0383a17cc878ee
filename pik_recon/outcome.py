"""What a command and a job step both decide: an unverified sync, the exit code findings
ask for, where a report goes by default."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pik_recon.errors import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_OK,
    AccountsFailedError,
    IncompleteSyncError,
    PikReconError,
)
from pik_recon.reconcile import SEVERITIES

if TYPE_CHECKING:
    from pik_recon.sync import SyncResult

FAIL_ON = ("never", "warning", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def require_verified(result: SyncResult) -> None:
    """A sync that could not prove itself complete is a temporary failure (exit 4)."""
    if not result.verified:
        raise IncompleteSyncError(f"sync run {result.run_id} {result.verdict}")


def exit_code_of(error: Exception) -> int:
    return error.exit_code if isinstance(error, PikReconError) else EXIT_INTERNAL


def failures_error(failures: Sequence[tuple[str, Exception]], ran: int) -> Exception | None:
    """The error of a command that ran for `ran` accounts: None when none failed; the error
    itself when the command ran for one account; else one error naming every failed
    account, its exit code the worst (highest) of theirs."""
    if not failures:
        return None
    if ran == 1:
        return failures[0][1]
    worst = max(exit_code_of(e) for _, e in failures)
    named = "; ".join(f"account {name}: {error} (exit {exit_code_of(error)})"
                      for name, error in failures)
    return AccountsFailedError(f"{len(failures)} of {ran} accounts failed: {named}", worst)


def raise_failures(failures: Sequence[tuple[str, Exception]], ran: int) -> None:
    error = failures_error(failures, ran)
    if error is not None:
        raise error


def findings_exit_code(worst: str | None, fail_on: str) -> int:
    """1 when the worst severity present is `fail_on` or worse (never: always 0)."""
    if fail_on == "never" or worst is None:
        return EXIT_OK
    return EXIT_FINDINGS if SEVERITY_RANK[worst] <= SEVERITY_RANK[fail_on] else EXIT_OK


def attention_line(open_critical: int, open_warning: int, code: int, fail_on: str,
                   option: str = "--fail-on") -> str:
    """The one line that says what needs doing and why the exit code is what it is."""
    if not open_critical and not open_warning:
        return "done, nothing needs attention (no open critical or warning findings)"
    parts = [f"{n} {s} finding{'s' if n != 1 else ''}" for n, s in
             ((open_critical, "critical"), (open_warning, "warning")) if n]
    need = " and ".join(parts) + (" needs" if sum((open_critical, open_warning)) == 1
                                  else " need") + " attention"
    why = (f"exit {code} because {option} is {fail_on}" if code == EXIT_OK
           else f"exit {code}: {option} is {fail_on}")
    return f"done, {need} ({why})"


def report_folder(out_dir: str, since: datetime, until: datetime, zone: ZoneInfo) -> Path:
    """The default report folder: out_dir/<since>_<until>, dates in the report's zone."""
    return Path(out_dir) / (f"{since.astimezone(zone):%Y-%m-%d}_"
                            f"{until.astimezone(zone):%Y-%m-%d}")

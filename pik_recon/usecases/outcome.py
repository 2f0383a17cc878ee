"""What a use case returns: per account what was done and what failed, what needs attention,
and the one exit code that follows. Commands and job steps only render it.

    Outcome
    ├── SyncOutcome        usecases.sync
    ├── OrdersOutcome      usecases.load_orders
    ├── ReconcileOutcome   usecases.reconcile
    ├── ReportOutcome      usecases.report
    ├── ExportOutcome      usecases.export_parquet
    ├── CreateOutcome      usecases.create_links (its own exit rule: the rows' states)
    └── FindingsOutcome    usecases.list_findings, ack_findings, reopen_findings

The exit code: the worst failure's when an account failed (a single account's own error,
or one naming each failed account); else 1 when what needs attention reaches `fail_on`;
else 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pik_recon.errors import EXIT_INTERNAL, EXIT_OK, AccountsFailedError, PikReconError

if TYPE_CHECKING:
    from pik_recon.attention import Attention


def exit_code_of(error: BaseException) -> int:
    return error.exit_code if isinstance(error, PikReconError) else EXIT_INTERNAL


@dataclass(frozen=True)
class Failure:
    """One account's part of a use case that did not succeed."""

    account: str
    error: Exception

    @property
    def exit_code(self) -> int:
        return exit_code_of(self.error)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """The accounts a use case ran for, those that failed, what needs attention."""

    accounts: tuple[str, ...]
    failures: tuple[Failure, ...] = ()
    attention: Attention | None = None
    fail_on: str = "never"

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(f.account for f in self.failures)

    @property
    def error(self) -> Exception | None:
        """None when no account failed; the error itself when the use case ran for one
        account; else one error naming every failed account, its exit code the worst."""
        if not self.failures:
            return None
        if len(self.accounts) == 1:
            return self.failures[0].error
        worst = max(f.exit_code for f in self.failures)
        named = "; ".join(f"account {f.account}: {f.error} (exit {f.exit_code})"
                          for f in self.failures)
        return AccountsFailedError(f"{len(self.failures)} of {len(self.accounts)} accounts "
                                   f"failed: {named}", worst)

    @property
    def exit_code(self) -> int:
        error = self.error
        if error is not None:
            return exit_code_of(error)
        return self.attention.exit_code(self.fail_on) if self.attention is not None else EXIT_OK

    def headline(self, option: str = "--fail-on") -> str:
        """What needs doing and why the exit code is what it is, in one line."""
        counts = [self.attention.count(s) if self.attention is not None else 0
                  for s in ("critical", "warning")]
        return attention_line(*counts, self.exit_code, self.fail_on, option)

    def counts(self) -> dict[str, dict[str, Any]]:
        """Per account, what was done: for a job run's record and its summary."""
        return {}


def attention_line(open_critical: int, open_warning: int, code: int, fail_on: str,
                   option: str = "--fail-on") -> str:
    """The one line that says what needs doing and why the exit code is what it is."""
    if not open_critical and not open_warning:
        return "done, nothing needs attention (no open critical or warning findings)"
    parts = [f"{n} {s} finding{'s' if n != 1 else ''}" for n, s in
             ((open_critical, "critical"), (open_warning, "warning")) if n]
    need = " and ".join(parts) + (" needs" if open_critical + open_warning == 1
                                  else " need") + " attention"
    why = (f"exit {code} because {option} is {fail_on}" if code == EXIT_OK
           else f"exit {code}: {option} is {fail_on}")
    return f"done, {need} ({why})"


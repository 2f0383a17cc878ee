"""The one exception tree of pik-recon; each error knows its exit code.

    PikReconError (5, internal)
    ├── UsageError (2): bad option, bad config, bad input file
    │   ├── ConfigError: a config key is wrong (names the key and what is allowed)
    │   ├── InputError: a file's line/column is wrong (names file, line, column, reason)
    │   └── ForeignWarehouseError: more links (transactions) than [sync] max_vanished are
    │       unknown to PIK
    ├── ApiError: PIK answered, or failed to
    │   ├── AuthError (3): 401/403, the key is wrong or lacks permission
    │   ├── NotFoundError (5): 404 for a single link
    │   ├── InvalidRequestError (5): 400/422, PIK rejected what we sent
    │   ├── RetryAfterTooLongError (4, not retried now): a 429 asking to wait too long
    │   ├── MalformedResponseError (4, transient): the body is not what the API documents
    │   └── TransientApiError (4, transient): worth retrying later
    │       ├── RateLimitedError: 429 beyond the retry budget
    │       ├── ServerError: 5xx
    │       └── TransportError: timeout, refused, dropped connection
    ├── WarehouseError (5)
    │   ├── WarehouseBusyError (4, transient): another process holds the warehouse
    │   └── AmountTooLargeError: a sum of amounts past what DECIMAL(38, 18) holds
    ├── FileError (5): a file or folder pik-recon writes failed in a way it cannot classify
    │   └── NoSpaceError (4, transient): its disk, or the user's quota, is full
    ├── LockHeldError (4, transient): another run of the same job holds its lock
    ├── IncompleteSyncError (4, transient): the sync could not be verified complete
    └── AccountsFailedError (the worst of theirs): some accounts of a command failed

    Interrupted (130 SIGINT, 143 SIGTERM): a KeyboardInterrupt, so that no `except
    Exception` on the way out swallows it
"""

from __future__ import annotations

import signal

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_TEMPORARY = 4
EXIT_INTERNAL = 5


class PikReconError(Exception):
    """Root of pik-recon's errors."""

    exit_code = EXIT_INTERNAL
    transient = False


class UsageError(PikReconError):
    """A bad option, config or input file: the user can fix it."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A configuration value is missing or not allowed."""


class InputError(UsageError):
    """An input file cannot be used; carries every problem found."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        full = message if not self.problems else message + "\n" + "\n".join(self.problems)
        super().__init__(full)


class ForeignWarehouseError(UsageError):
    """More links (or transactions) than `[sync] max_vanished` that the warehouse holds are
    unknown to PIK (404 by id) in one sync. PIK deletes neither: the warehouse is another
    account's."""

    def __init__(self, unknown: int, limit: int, noun: str = "link") -> None:
        super().__init__(
            f"the warehouse holds {unknown:,} {noun}s PIK does not know; is --db the warehouse "
            f"of another account? (the sync stopped when more than [sync] max_vanished = "
            f"{limit} answered 404, and marked none vanished; PIK does not delete {noun}s)")
        self.unknown = unknown


class ApiError(PikReconError):
    """PIK answered with an error, or the answer never came."""

    def __init__(self, message: str, *, status: int | None = None, method: str = "",
                 path: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path


class AuthError(ApiError):
    """401/403: the API key is wrong or lacks permission."""

    exit_code = EXIT_AUTH


class NotFoundError(ApiError):
    """404: the link does not exist."""


class InvalidRequestError(ApiError):
    """400/422: PIK rejected the request as invalid."""


class RetryAfterTooLongError(ApiError):
    """A 429 whose Retry-After is beyond `[pik] max_retry_after_seconds`: worth trying later
    (exit 4), not waiting for now."""

    exit_code = EXIT_TEMPORARY


class TransientApiError(ApiError):
    """A failure worth retrying later."""

    exit_code = EXIT_TEMPORARY
    transient = True


class MalformedResponseError(TransientApiError):
    """The body is not the JSON the API documents (an HTML 5xx page, a cut-off body)."""


class RateLimitedError(TransientApiError):
    """429: too many requests."""

    def __init__(self, message: str, *, retry_after_seconds: float | None = None,
                 **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after_seconds = retry_after_seconds


class ServerError(TransientApiError):
    """5xx from PIK."""


class TransportError(TransientApiError):
    """Timeout, connection refused, or a dropped connection."""

    def __init__(self, message: str, *, sent: bool = True, timed_out: bool = False,
                 **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.sent = sent
        self.timed_out = timed_out  # sent and no answer in time: PIK may still act on it


class WarehouseError(PikReconError):
    """The DuckDB warehouse failed."""


class AmountTooLargeError(WarehouseError):
    """A sum a finding would store (money received on a link, an order's paid links) is
    past the 20 integer digits of DECIMAL(38, 18): nothing is rounded, and nothing stored."""


class WarehouseBusyError(WarehouseError):
    """Another process is writing the warehouse."""

    exit_code = EXIT_TEMPORARY
    transient = True


class FileError(PikReconError):
    """Writing a file or folder failed for a reason no table names (the message names the
    path and the system's reason)."""


class NoSpaceError(FileError):
    """The disk (or the user's quota) holding a file pik-recon writes is full."""

    exit_code = EXIT_TEMPORARY
    transient = True


class LockHeldError(PikReconError):
    """Another process holds the lock on what this one would write: a run of the same job,
    an export into the same folder."""

    exit_code = EXIT_TEMPORARY
    transient = True


class IncompleteSyncError(PikReconError):
    """The sync finished but could not prove the warehouse complete."""

    exit_code = EXIT_TEMPORARY
    transient = True


class AccountsFailedError(PikReconError):
    """Some of the accounts a command ran for failed; the exit code is the worst of theirs
    (the highest), the message names each."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.transient = exit_code == EXIT_TEMPORARY


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM stopped a command; exit 128 + the signal's number."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signal_name}")
        self.exit_code = 128 + signum

"""Folders and files pik-recon writes: checked before anything is written into them, and the
file system's errors as the error that names the path, at this one boundary.

`OS_ERRORS` is the one table of what an errno means to the user; DuckDB's I/O errors quote
the system's message for it, so the warehouse reads them through the same table
(`errno_in`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pik_recon.errors import FileError, NoSpaceError, PikReconError, UsageError

_ELSEWHERE = "run pik-recon as a user who may write there, or choose another path"

# errno -> (the error, what went wrong and what to do, as the user reads it)
OS_ERRORS: dict[int, tuple[type[PikReconError], str]] = {
    errno.EACCES: (UsageError, f"permission denied; {_ELSEWHERE}"),
    errno.EPERM: (UsageError, f"operation not permitted; {_ELSEWHERE}"),
    errno.EROFS: (UsageError, "the file system is read-only; choose a path on a writable disk"),
    errno.ENOSPC: (NoSpaceError, "no space left on the device; free some space and run again"),
    errno.EDQUOT: (NoSpaceError, "the disk quota is used up; free some space or raise the "
                                 "quota, and run again"),
    errno.ENOENT: (UsageError, "no such file or folder; check the path"),
    errno.ENOTDIR: (UsageError, "a part of the path is a file, not a folder; choose another "
                                "path"),
    errno.EISDIR: (UsageError, "it is a folder; name a file"),
    errno.ENAMETOOLONG: (UsageError, "the name is too long; choose a shorter path"),
}


def path_error(exc: OSError, path: Path, what: str, doing: str = "write") -> PikReconError:
    """`exc` as pik-recon's error, naming `what` (how the user knows the path, e.g. "--out")
    and the file that failed; an errno no table names is a FileError with the system's
    reason."""
    failed = Path(exc.filename) if isinstance(exc.filename, str | os.PathLike) else path
    doing += "" if failed == path else f" {failed}"
    if exc.errno in OS_ERRORS:
        kind, reason = OS_ERRORS[exc.errno]
        return kind(f"{what} {path}: cannot {doing}: {reason}")
    return FileError(f"{what} {path}: cannot {doing}: {exc.strerror or exc}")


def errno_in(text: str) -> int | None:
    """The errno of `OS_ERRORS` whose system message `text` quotes, if any."""
    lowered = text.lower()
    return next((number for number in OS_ERRORS if os.strerror(number).lower() in lowered),
                None)


@contextlib.contextmanager
def writing(path: Path, what: str) -> Iterator[None]:
    """Turn an OSError raised while writing at or under `path` into the error that names it."""
    try:
        yield
    except OSError as exc:
        raise path_error(exc, path, what) from None


def _blocker(path: Path) -> Path | None:
    """The first part of `path` that exists and is not a folder."""
    for part in [*reversed(path.parents), path]:
        if part.exists() and not part.is_dir():
            return part
    return None


def ensure_folder(path: Path, what: str) -> Path:
    """Create `path` (and its parents) as a folder, or say in a sentence why it cannot be.

    `what` names it for the user, e.g. "--out" or "[report] out_dir".
    """
    blocker = _blocker(path)
    if blocker is not None:
        raise UsageError(f"{what}: cannot create the folder {path}: {blocker} is a file; "
                         "choose another folder")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise path_error(exc, path, what, "create the folder") from None
    return path


def check_file_target(path: Path, what: str) -> Path:
    """A file pik-recon will write later: not a folder, nothing in the way of its folder
    (which is made when the file is written), and a folder the user may write in."""
    if path.is_dir():
        raise UsageError(f"{what}: {path} is a folder; name a file, e.g. {path / 'links.csv'}")
    blocker = _blocker(path.parent)
    if blocker is not None:
        raise UsageError(f"{what}: cannot write {path}: {blocker} is a file, not a folder; "
                         "choose another path")
    folder = next(p for p in (path.parent, *path.parent.parents) if p.exists())
    try:  # a file there now, so that no work is done whose outcome cannot be written
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:  # named for the folder, not the probe's random name
        raise path_error(OSError(exc.errno, exc.strerror, str(folder)), path, what) from None
    return path

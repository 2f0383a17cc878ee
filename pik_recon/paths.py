"""Folders and files pik-recon writes, checked before anything is written into them."""

from __future__ import annotations

from pathlib import Path

from pik_recon.errors import UsageError


def _blocker(path: Path) -> Path | None:
    """The first part of `path` that exists and is not a folder."""
    for part in [*reversed(path.parents), path]:
        if part.exists() and not part.is_dir():
            return part
    return None


def ensure_folder(path: Path, what: str) -> Path:
    """Create `path` (and its parents) as a folder, or say in a sentence why it cannot be.

    `what` names it for the user, e.g. "--out reports/2026-11" or "the report folder".
    """
    blocker = _blocker(path)
    if blocker is not None:
        raise UsageError(f"{what}: cannot create the folder {path}: {blocker} is a file; "
                         "choose another folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{what}: cannot create the folder {path}: {exc.strerror}; choose "
                         "another folder") from None
    return path


def check_file_target(path: Path, what: str) -> Path:
    """A file pik-recon will write later: not a folder, and nothing in the way of its
    folder (which is made when the file is written)."""
    if path.is_dir():
        raise UsageError(f"{what}: {path} is a folder; name a file, e.g. {path / 'links.csv'}")
    blocker = _blocker(path.parent)
    if blocker is not None:
        raise UsageError(f"{what}: cannot write {path}: {blocker} is a file, not a folder; "
                         "choose another path")
    return path

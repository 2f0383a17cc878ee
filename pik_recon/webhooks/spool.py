"""The receiver's spool: segment files of JSON lines, appended and fsynced, read by the loader.

    SPOOL/20261201T101500123456Z-3f9a01c2-0001.open   the segment a receiver is writing
    SPOOL/20261201T101400007000Z-3f9a01c2-0000.jsonl  a closed segment, ready to load
    SPOOL/.load.lock                                  held by the one loader at a time

A receiver creates a segment as `.new`, locks it (flock, held for as long as it writes) and
only then renames it `.open`, so an unlocked `.open` is one whose receiver died. It rotates
a segment by renaming it `.jsonl`. The loader takes closed segments and the `.open` ones of
dead receivers whole, removing them once loaded, and a live `.open` up to its last complete
line, which it leaves. A line that does not end in a newline, or is not a record, was never
answered 200 (answers follow the fsync) and is skipped. Folder 0700, files 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from pik_recon.errors import LockHeldError, UsageError
from pik_recon.logs import get_logger

log = get_logger("webhooks.spool")
FORMAT_VERSION = 1
LOAD_LOCK = ".load.lock"
MAX_SEGMENT_BYTES = 16 * 1024 * 1024
REJECTION_REASONS = ("missing_signature", "bad_signature", "not_an_event")


def stamp(moment: datetime) -> str:
    """A time as the spool writes it: ISO 8601, UTC, microseconds, Z."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def event_line(account: str, received_at: datetime, signature: str, body: bytes) -> bytes:
    """One delivery as a spool record: the body is the raw text PIK signed (it is valid
    UTF-8, the receiver decoded it as JSON)."""
    return orjson.dumps({"v": FORMAT_VERSION, "kind": "event", "account": account,
                         "received_at": stamp(received_at), "signature": signature,
                         "body": body.decode("utf-8")}) + b"\n"


def rejections_line(receiver: str, account: str, day: str, reason: str, deliveries: int,
                    last_at: datetime) -> bytes:
    """A receiver run's running count of refused deliveries for an account, day and reason
    (the loader keeps the largest it sees, so a record read twice counts once)."""
    return orjson.dumps({"v": FORMAT_VERSION, "kind": "rejections", "receiver": receiver,
                         "account": account, "day": day, "reason": reason,
                         "deliveries": deliveries, "last_at": stamp(last_at)}) + b"\n"


def ensure_spool(folder: Path) -> Path:
    """Create the spool folder readable by its owner only, or say why it cannot be."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if folder.stat().st_mode & 0o077:
            folder.chmod(0o700)
    except OSError as exc:
        raise UsageError(f"webhook spool {folder}: {exc.strerror}; set [webhooks] spool_dir "
                         "to a folder this user may write") from None
    return folder


def _sync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


class SegmentWriter:
    """Appends lines to the receiver's open segment and fsyncs them; one caller at a time
    (the receiver's writer). A new segment per start, so nothing is ever appended after
    the torn tail a crash may have left."""

    def __init__(self, folder: Path, receiver: str, segment_seconds: float) -> None:
        self.folder = folder
        self.receiver = receiver
        self.segment_seconds = segment_seconds
        self._handle: int | None = None
        self._path: Path | None = None
        self._opened = 0.0
        self._size = 0
        self._seq = 0

    def append(self, data: bytes) -> None:
        """Write `data` whole and fsync it: when this returns, it is on disk."""
        if self._handle is None:
            self._open()
        assert self._handle is not None
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._handle, view)
                view = view[written:]
            os.fdatasync(self._handle)
        except OSError:
            # the segment may end in half a batch now: the next goes to a new one, and this
            # one, unlocked, is loaded as a dead receiver's (its torn tail skipped)
            with contextlib.suppress(OSError):
                os.close(self._handle)
            self._handle, self._path = None, None
            raise
        self._size += len(data)

    def rotate_if_due(self) -> None:
        """Close the segment once it is `segment_seconds` old or large (and holds lines)."""
        if self._handle is not None and self._size and (
                time.monotonic() - self._opened >= self.segment_seconds
                or self._size >= MAX_SEGMENT_BYTES):
            self.close()

    def close(self) -> None:
        """Rename the segment closed (the loader may take it), then let go of its lock."""
        if self._handle is None or self._path is None:
            return
        if self._size:
            os.rename(self._path, self._path.with_suffix(".jsonl"))
        else:
            self._path.unlink()
        _sync_folder(self.folder)
        os.close(self._handle)
        self._handle, self._path = None, None

    def _open(self) -> None:
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{self.receiver}-{self._seq:04d}"
        self._seq += 1
        new = self.folder / f"{name}.new"
        handle = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC,
                         0o600)
        fcntl.flock(handle, fcntl.LOCK_EX)
        self._path = new.with_suffix(".open")
        os.rename(new, self._path)
        _sync_folder(self.folder)
        self._handle, self._opened, self._size = handle, time.monotonic(), 0


@dataclass
class Segment:
    """A segment as the loader holds it, open (and, when its receiver is dead, locked) while
    it is loaded. `live`: a receiver still writes it, so only its complete lines are read
    and it stays."""

    path: Path
    live: bool
    handle: BinaryIO

    def read(self) -> tuple[list[dict[str, Any]], int]:
        """Its records, and how many lines are not whole records (never answered 200)."""
        lines = self.handle.read().split(b"\n")
        tail = lines.pop()  # after the last newline: a record being written, or torn
        records, torn = [], 0 if self.live or not tail else 1
        for number, line in enumerate(lines, 1):
            record = _record(line)
            if record is None:
                torn += 1
                log.warning("webhook spool %s line %d is not a whole record; skipped",
                            self.path.name, number)
            else:
                records.append(record)
        return records, torn

    def remove(self) -> None:
        """Delete a loaded segment (gone already is fine: another loader was first)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict) or record.get("v") != FORMAT_VERSION:
        return None
    if record.get("kind") == "event" and all(isinstance(record.get(k), str) for k in (
            "account", "received_at", "signature", "body")):
        return record
    if record.get("kind") == "rejections" and isinstance(record.get("deliveries"), int) and (
            record.get("reason") in REJECTION_REASONS):
        return record
    return None


def segments(folder: Path) -> Iterator[Segment]:
    """Every segment of the spool, oldest first, each open (and, when its receiver is dead,
    locked by the reader, so none is taken for dead while its receiver lives) until the
    next is asked for. Nothing is read or removed here."""
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".open", ".jsonl")):
        try:
            handle = path.open("rb")
        except FileNotFoundError:  # rotated or loaded meanwhile: the next load has it
            continue
        with handle:
            live = False
            if path.suffix == ".open":
                try:
                    fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    live = True
            yield Segment(path, live, handle)


def remove_stale_new(folder: Path) -> None:
    """`.new` files a receiver killed while creating a segment left: never written to (a
    minute old, so that none is taken between its receiver creating and locking it)."""
    for path in folder.glob("*.new"):
        with contextlib.suppress(FileNotFoundError), path.open("rb") as handle:
            if time.time() - os.fstat(handle.fileno()).st_mtime < 60:
                continue
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            path.unlink()


@contextlib.contextmanager
def load_lock(folder: Path) -> Iterator[None]:
    """One loader of a spool at a time; the receivers never take it."""
    handle = os.open(folder / LOAD_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeldError(f"the webhook spool {folder} is being loaded by another "
                                "pik-recon process; its events are loaded then") from None
        yield
    finally:
        os.close(handle)

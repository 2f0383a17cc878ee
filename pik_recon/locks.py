"""The one file lock: a run of a job, an export into a folder, one at a time across processes.

An exclusive `flock` on a file that holds who took it (pid, host, since). The kernel drops
the lock with its process, so a lock left by a killed run is simply taken by the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from pik_recon.errors import LockHeldError
from pik_recon.paths import writing


@contextlib.contextmanager
def held(path: Path, what: str, busy: Callable[[str], str], folder: str) -> Iterator[None]:
    """Hold the lock file `path` (its folder made owner-only if missing) for the block.

    `what` and `folder` name the file and its folder for errors about them; `busy` makes
    the message when another process holds it, from who that is ("pid 4242 on db-host
    since ...").
    """
    with writing(path.parent, folder):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 4096, 0).decode("utf-8", "replace")
            raise LockHeldError(busy(_describe(holder))) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds")}
        with writing(path, what):
            os.ftruncate(handle, 0)
            os.pwrite(handle, json.dumps(info).encode(), 0)
        yield
    finally:
        os.close(handle)


def _describe(holder: str) -> str:
    try:
        info = json.loads(holder)
        return f"pid {info['pid']} on {info['host']} since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"

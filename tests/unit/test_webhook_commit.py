"""The receiver's group commit, with a stand-in for the segment writer."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from pik_recon.webhooks.receiver import GroupCommit, Rejections, SpoolWriteError
from pik_recon.webhooks.spool import SegmentWriter, ensure_spool


class SlowWriter:
    """Takes 20 ms a write, as an fsync on a busy disk may; fails the writes it is told to."""

    def __init__(self, failing: int = 0) -> None:
        self.writes: list[bytes] = []
        self.failing = failing
        self.closed = False
        self._lock = threading.Lock()

    def append(self, data: bytes) -> None:
        time.sleep(0.02)
        with self._lock:
            if self.failing:
                self.failing -= 1
                raise OSError(28, "No space left on device")
            self.writes.append(data)

    def rotate_if_due(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


async def _commits(commit: GroupCommit, lines: list[bytes]) -> list[object]:
    runner = asyncio.create_task(commit.run())
    results = await asyncio.gather(*(commit.commit(line) for line in lines),
                                   return_exceptions=True)
    commit.close()
    await runner
    return results


def test_what_arrives_during_a_write_goes_to_disk_with_the_next() -> None:
    writer = SlowWriter()
    commit = GroupCommit(writer, Rejections("r"))  # type: ignore[arg-type]
    lines = [b"%d\n" % n for n in range(200)]
    results = asyncio.run(_commits(commit, lines))
    assert results == [None] * 200
    assert b"".join(writer.writes) == b"".join(lines)
    assert len(writer.writes) <= 3  # one write (and fsync) for the many, not one each
    assert writer.closed


def test_a_failed_write_fails_its_waiters_and_the_next_write_goes_on() -> None:
    writer = SlowWriter(failing=1)
    commit = GroupCommit(writer, Rejections("r"))  # type: ignore[arg-type]

    async def two_batches() -> tuple[list[object], list[object]]:
        runner = asyncio.create_task(commit.run())
        first = await asyncio.gather(*(commit.commit(b"a\n") for _ in range(5)),
                                     return_exceptions=True)
        second = await asyncio.gather(commit.commit(b"b\n"), return_exceptions=True)
        commit.close()
        await runner
        return first, second

    first, second = asyncio.run(two_batches())
    assert [type(r) for r in first] == [SpoolWriteError] * 5
    assert second == [None]
    assert writer.writes == [b"b\n"]


def test_a_segment_whose_write_failed_is_never_appended_to_again(tmp_path: Path) -> None:
    folder = ensure_spool(tmp_path / "spool")
    writer = SegmentWriter(folder, "r", segment_seconds=3600)
    writer.append(b"one\n")
    (first,) = folder.iterdir()
    assert writer._handle is not None
    os.close(writer._handle)  # the descriptor fails under the writer, as a dying disk would
    with pytest.raises(OSError):
        writer.append(b"half")
    writer.append(b"two\n")
    assert first.read_bytes() == b"one\n"
    assert sorted(p.read_bytes() for p in folder.iterdir()) == [b"one\n", b"two\n"]

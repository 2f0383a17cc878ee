"""The spool's segments: owner-only files, a live segment told from a dead one, rotation."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from pik_recon.webhooks.spool import (
    SegmentWriter,
    ensure_spool,
    remove_stale_new,
    segments,
)

LINE = b'{"v":1,"kind":"rejections","receiver":"r","account":"a","day":"2026-12-01",' \
       b'"reason":"bad_signature","deliveries":1,"last_at":"2026-12-01T00:00:00Z"}\n'


def _state(folder: Path) -> list[tuple[str, bool, int]]:
    return [(s.path.suffix, s.live, len(s.read()[0])) for s in segments(folder)]


def test_a_segment_is_owner_only_and_live_while_its_writer_holds_it(tmp_path: Path) -> None:
    folder = ensure_spool(tmp_path / "spool")
    writer = SegmentWriter(folder, "r1", segment_seconds=3600)
    writer.append(LINE * 2)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (path,) = folder.iterdir()
    assert (path.suffix, stat.S_IMODE(path.stat().st_mode)) == (".open", 0o600)
    assert _state(folder) == [(".open", True, 2)]
    writer.close()
    assert _state(folder) == [(".jsonl", False, 2)]


def test_a_segment_whose_writer_died_is_not_live(tmp_path: Path) -> None:
    folder = ensure_spool(tmp_path / "spool")
    writer = SegmentWriter(folder, "r1", segment_seconds=3600)
    writer.append(LINE)
    assert writer._handle is not None
    os.close(writer._handle)  # what the kernel does when the receiver is killed
    assert _state(folder) == [(".open", False, 1)]


def test_segments_rotate_when_due_and_an_empty_one_leaves_nothing(tmp_path: Path) -> None:
    folder = ensure_spool(tmp_path / "spool")
    writer = SegmentWriter(folder, "r1", segment_seconds=0.05)
    writer.append(LINE)
    writer.rotate_if_due()
    assert _state(folder) == [(".open", True, 1)]  # not yet due
    time.sleep(0.06)
    writer.rotate_if_due()
    writer.append(LINE)
    assert sorted(_state(folder)) == [(".jsonl", False, 1), (".open", True, 1)]
    idle = SegmentWriter(folder, "r2", segment_seconds=0.05)
    idle._open()
    idle.close()
    assert len(list(folder.iterdir())) == 2


def test_only_stale_new_files_are_removed(tmp_path: Path) -> None:
    folder = ensure_spool(tmp_path / "spool")
    old, fresh = folder / "a.new", folder / "b.new"
    old.touch()
    fresh.touch()
    os.utime(old, (time.time() - 120, time.time() - 120))
    remove_stale_new(folder)
    assert [p.name for p in folder.iterdir()] == ["b.new"]

"""Which part of the unfiltered list has been read, in indexes that do not move.

PIK's unfiltered list only grows: links are never removed, and a status change does not move
a link in it. New links are the newest, so in a list ordered by creation time they join at
one end: at offset 0 when newest first, at the end when oldest first. Counting from the
oldest link, a link's index then never changes while the list grows, and a page answered at
offset `o` with `total` T covers indexes [T - o - count, T - o) (newest first) or
[o, o + count) (oldest first). Pages answered at different moments, out of order, can be
laid side by side in those indexes, and what no page covered is known exactly.

The frame is a prediction used to decide what to read; it proves nothing on its own. The
count proof (`proof.py`) decides whether the sync is complete, so a list that is not ordered
as the frame assumes costs requests, never correctness.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from pik_recon.links import created_at

NEWEST = "newest first"
OLDEST = "oldest first"
UNKNOWN = "unknown order"


def detect_frame(records: Sequence[Any]) -> str:
    """The order of a page of the unfiltered list, from its records' creation times."""
    stamps = [created_at(record) for record in records]
    known = [s for s in stamps if s is not None]
    pairs = list(itertools.pairwise(known))
    if len(known) < 2 or len(known) < len(stamps) or all(a == b for a, b in pairs):
        return UNKNOWN
    if all(a >= b for a, b in pairs):
        return NEWEST
    if all(a <= b for a, b in pairs):
        return OLDEST
    return UNKNOWN


class Spans:
    """A set of indexes held as sorted, disjoint, half-open spans [lo, hi)."""

    def __init__(self) -> None:
        self._los: list[int] = []
        self._his: list[int] = []

    def add(self, lo: int, hi: int) -> None:
        if hi <= lo:
            return
        start = bisect.bisect_left(self._his, lo)  # first span that ends at or after lo
        end = bisect.bisect_right(self._los, hi)  # spans from here on start after hi
        if start < end:
            lo, hi = min(lo, self._los[start]), max(hi, self._his[end - 1])
        self._los[start:end] = [lo]
        self._his[start:end] = [hi]

    def missing(self, lo: int, hi: int) -> Iterator[tuple[int, int]]:
        """The parts of [lo, hi) not in the set, lowest first."""
        at = lo
        for span_lo, span_hi in zip(self._los, self._his, strict=True):
            if span_hi <= at:
                continue
            if span_lo >= hi:
                break
            if span_lo > at:
                yield at, span_lo
            at = max(at, span_hi)
        if at < hi:
            yield at, hi

    def __len__(self) -> int:
        return len(self._los)


class Coverage:
    """The unfiltered list's indexes covered by pages read in this sync."""

    def __init__(self, frame: str, limit: int) -> None:
        self.frame = frame
        self.limit = limit
        self.covered = Spans()

    def indexes(self, offset: int, count: int, total: int) -> tuple[int, int]:
        """The indexes a page covers, counted from the oldest link (newest first) or from
        the first (otherwise)."""
        if self.frame == NEWEST:
            return total - offset - count, total - offset
        return offset, offset + count

    def add(self, offset: int, count: int, total: int) -> None:
        self.covered.add(*self.indexes(offset, count, total))

    def gaps(self, floor: int, top: int) -> list[tuple[int, int]]:
        return list(self.covered.missing(floor, top))

    def offset_for(self, lo: int, hi: int, total: int) -> int:
        """Where to ask for a page to read indexes [lo, hi) when PIK's total is at least
        `total`. Newest first, links added before PIK answers shift the page towards newer
        links: it still reaches `hi`, and overlaps what lies above it instead."""
        if self.frame == NEWEST:
            return max(0, total - hi)
        return max(0, lo)

    def newest_offset(self, top: int) -> int:
        """The offset of a page that ends at the newest link, `top` links in the list."""
        if self.frame == OLDEST:
            return max(0, top - self.limit)
        return 0

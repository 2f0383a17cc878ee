"""Which part of the unfiltered list has been read, in indexes that do not move.

PIK's unfiltered list only grows: links (and transactions) are never removed, and a status
change does not move a record in it. New records are the newest, so in a list ordered by
creation time they join at one end (listorder.py): at offset 0 when newest first, at the end
when oldest first. Counting from the oldest record, a record's index then never changes
while the list grows, and a page answered at offset `o` with `total` T covers indexes
[T - o - count, T - o) (newest first) or [o, o + count) (oldest first). Pages answered at
different moments, out of order, can be laid side by side in those indexes, and what no page
covered is known exactly.

The frame is a prediction used to decide what to read; it proves nothing on its own. The
count proof (`proof.py`) decides whether the sync is complete, so a list that is not ordered
as the frame assumes costs requests, never correctness.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from pik_recon.listorder import Order


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
    """The unfiltered list's indexes covered by pages read in this sync, in the list's
    order (its frame)."""

    def __init__(self, frame: Order, limit: int) -> None:
        self.frame = frame
        self.limit = limit
        self.covered = Spans()

    def indexes(self, offset: int, count: int, total: int) -> tuple[int, int]:
        """The indexes a page covers, counted from the oldest record (newest first) or from
        the first (otherwise)."""
        if self.frame is Order.NEWEST:
            return total - offset - count, total - offset
        return offset, offset + count

    def add(self, offset: int, count: int, total: int) -> None:
        self.covered.add(*self.indexes(offset, count, total))

    def gaps(self, floor: int, top: int) -> list[tuple[int, int]]:
        return list(self.covered.missing(floor, top))

    def offset_for(self, lo: int, hi: int, total: int) -> int:
        """Where to ask for a page to read indexes [lo, hi) when PIK's total is at least
        `total`. Newest first, records added before PIK answers shift the page towards newer
        ones: it still reaches `hi`, and overlaps what lies above it instead."""
        if self.frame is Order.NEWEST:
            return max(0, total - hi)
        return max(0, lo)

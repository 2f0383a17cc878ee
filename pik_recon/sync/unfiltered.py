"""The list of every record (no status filter) as one sync run reads it.

Its `total` in an answer is the number of records at that instant, and only grows: the proof
(proof.py) rests on it. The pages answered are laid out in indexes that do not move
(coverage.py), in the order the first page shows (listorder.py); `top` is the largest total
seen so far.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pik_recon.client import PAGE_LIMIT, Page
from pik_recon.listorder import Order, from_newest, order_of
from pik_recon.sync.coverage import Coverage
from pik_recon.sync.pages import Pager


class UnfilteredList:
    """The unfiltered list of one run: its coverage, its first and largest totals."""

    def __init__(self, pager: Pager) -> None:
        self._pager = pager
        self._coverage = Coverage(Order.UNKNOWN, PAGE_LIMIT)
        self.first_total = 0
        self.top = 0

    @property
    def order(self) -> Order:
        return self._coverage.frame

    @property
    def concurrency(self) -> int:
        return self._pager.concurrency

    async def first_page(self) -> Page:
        """The first page: PIK's total, and the order the sweep reads in."""
        page = await self._pager.page(None, 0)
        self.first_total = self.top = page.total
        self._coverage = Coverage(order_of(page.data), PAGE_LIMIT)
        self._coverage.add(0, page.count, page.total)
        return page

    async def page(self, offset: int | Callable[[], int]) -> tuple[int, Page]:
        """A page, added to the coverage; with the offset it was answered for (a function
        is asked again before each attempt)."""
        asked: list[int] = []

        def aim() -> int:
            asked.append(offset() if callable(offset) else offset)
            return asked[-1]

        page = await self._pager.page(None, aim)
        self.top = max(self.top, page.total)
        self._coverage.add(asked[-1], page.count, page.total)
        return asked[-1], page

    def growth_per_request(self) -> float:
        """New records per request so far: how fast the list grows under the sync."""
        return (self.top - self.first_total) / max(1, self._pager.counts.spent)

    def gaps(self, floor: int, top: int) -> list[tuple[int, int]]:
        """The indexes in [floor, top) no page covered, lowest first."""
        return self._coverage.gaps(floor, top)

    def aim(self, lo: int, hi: int) -> int:
        """The offset to ask for indexes [lo, hi), with the largest total seen."""
        return self._coverage.offset_for(lo, hi, self.top)

    def covered_by(self, offset: int, page: Page) -> tuple[int, int]:
        """The indexes a page answered at `offset` covers."""
        return self._coverage.indexes(offset, page.count, page.total)

    def proof_offset(self) -> int:
        """Where the proof's page is asked: the newest end, or, oldest first, the lowest
        index left uncovered near it (the newest gap)."""
        newest_gap = self._coverage.gaps(0, self.top + 1)
        if self.order is Order.OLDEST and newest_gap:
            return newest_gap[-1][0]
        return from_newest(self.order, 0, self.top, PAGE_LIMIT)

    async def read_newest(self, depth: int) -> None:
        """Read the newest `depth` records page after page, from the end where records are
        added: in that order a list that only grows cannot skip one (an addition only
        pushes records towards pages still to come)."""
        top = self.top
        for n in range(math.ceil(depth / PAGE_LIMIT)):
            await self.page(from_newest(self.order, n, top, PAGE_LIMIT))

    def read_again(self) -> None:
        """Forget what was covered: the list is read again whole, by offset."""
        self._coverage = Coverage(Order.UNKNOWN, PAGE_LIMIT)

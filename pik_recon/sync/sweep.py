"""Sweeping the unfiltered list: chains of pages, each aimed next to the previous answer.

What is left to read is cut into regions; a worker reads a region one page at a time, each
page aimed at the indexes next to what its previous answer covered (coverage.py). In a list
read newest first, records added while a page is in flight shift it towards the newer ones,
never past the indexes it was aimed at: a page aimed with the total seen so far, which
PIK's can only exceed, overlaps its predecessor by the records added meanwhile and leaves no
gap. That overlap grows with the requests in flight, so a list that grows fast is read with
fewer at once (`Gate`). A worker whose region is done takes the lower half of the largest
region left.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from pik_recon.client import PAGE_LIMIT
from pik_recon.listorder import Order
from pik_recon.sync.pages import gather
from pik_recon.sync.unfiltered import UnfilteredList

MIN_CHAIN = 50  # pages a region should hold before another worker starts one
OVERLAP = 2.0  # links a page may expect to share with its predecessor, at most


@dataclass
class Region:
    """Indexes [lo, top) still to be read by one chain."""

    lo: int
    top: int

    @property
    def pages(self) -> int:
        return math.ceil((self.top - self.lo) / PAGE_LIMIT)


def reserve(every: UnfilteredList) -> int:
    """Indexes at the newest end left to the proof's own page, which reads them anyway."""
    if every.order is Order.UNKNOWN:
        return 0
    margin = 2 + math.ceil(3 * every.growth_per_request())
    return max(0, PAGE_LIMIT - margin)


def chains(every: UnfilteredList, pages: int) -> int:
    """How many regions to read at once: enough for the work, at most `concurrency`."""
    return max(1, min(every.concurrency, math.ceil(pages / MIN_CHAIN)))


class Gate:
    """Requests of the sweep in flight at once: few enough that the records added while a
    page is in flight stay under OVERLAP a page, as fast as the list has grown so far."""

    def __init__(self, every: UnfilteredList) -> None:
        self.every = every
        self.in_flight = 0
        self._changed = asyncio.Condition()

    def allowed(self) -> int:
        growth = self.every.growth_per_request()
        if growth <= 0:
            return self.every.concurrency
        return max(2, min(self.every.concurrency, math.floor(OVERLAP / growth)))

    async def __aenter__(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.allowed())
            self.in_flight += 1

    async def __aexit__(self, *exc: object) -> None:
        async with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()


def _regions(gaps: list[tuple[int, int]], count: int) -> list[Region]:
    """The gaps cut into about `count` regions of similar size, newest first; sizes are
    whole pages, so only the last region of a gap ends in a partial one."""
    pages = math.ceil(sum(hi - lo for lo, hi in gaps) / count / PAGE_LIMIT)
    size = max(1, pages) * PAGE_LIMIT
    regions = []
    for lo, hi in gaps:
        regions += [Region(max(lo, top - size), top) for top in range(hi, lo, -size)]
    return sorted(regions, key=lambda r: r.top, reverse=True)


async def cover(every: UnfilteredList, floor: int) -> bool:
    """Read the unfiltered list until its indexes from `floor` to the newest (less the
    reserve) are covered. False when a page came back shorter than PIK's total implies and
    holding none of what it was aimed at; that region is then left to the proof. Bounded by
    the budget: a list that grows faster than it can be read spends it."""
    stuck = False
    while True:
        newest = every.top - reserve(every)
        gaps = every.gaps(floor, newest)
        # the gap at the newest end grows with every request: it waits until it holds a
        # page, unless it is all that is left
        if len(gaps) > 1 and gaps[-1][1] == newest and newest - gaps[-1][0] < PAGE_LIMIT:
            gaps.pop()
        if not gaps or stuck:
            return not stuck
        pages = sum(math.ceil((hi - lo) / PAGE_LIMIT) for lo, hi in gaps)
        regions = _regions(gaps, chains(every, pages))
        queue, gate = list(regions), Gate(every)
        done = await gather(_chain(every, regions, queue, gate) for _ in regions)
        stuck = not all(done)


async def _chain(every: UnfilteredList, regions: list[Region], queue: list[Region],
                 gate: Gate) -> bool:
    """One worker: regions from the queue, then halves of the largest left; False if a
    region could not be read (`_read_region`)."""
    downwards = every.order is Order.NEWEST
    read_all = True
    while queue or _steal(regions, queue, downwards):
        read_all = await _read_region(every, queue.pop(0), gate) and read_all
    return read_all


def _steal(regions: list[Region], queue: list[Region], downwards: bool) -> bool:
    """Split the largest region still being read: the half its reader reaches last becomes
    a new region."""
    largest = max(regions, key=lambda r: r.top - r.lo, default=None)
    if largest is None or largest.pages < 4:
        return False
    half_pages = largest.pages // 2 * PAGE_LIMIT  # whole pages from where each reader starts
    if downwards:
        middle = largest.top - half_pages
        half, largest.lo = Region(largest.lo, middle), middle
    else:
        middle = largest.lo + half_pages
        half, largest.top = Region(middle, largest.top), middle
    regions.append(half)
    queue.append(half)
    return True


async def _read_region(every: UnfilteredList, region: Region, gate: Gate) -> bool:
    """Read a region page after page: newest first from its top down (a page aimed below
    the previous answer), otherwise from its bottom up (positions do not move, and the end
    where records are added comes last). False if a page came back short and covered
    nothing of what it was aimed at."""
    downwards = every.order is Order.NEWEST
    while True:
        gaps = every.gaps(region.lo, region.top)
        if not gaps:
            return True
        region.lo, region.top = gaps[0][0], gaps[-1][1]  # what is left, for `_steal`
        target = (region.top - PAGE_LIMIT, region.top) if downwards else (
            gaps[0][0], gaps[0][0] + PAGE_LIMIT)

        def aimed(target: tuple[int, int] = target) -> int:  # asked again before a retry
            return every.aim(*target)

        async with gate:
            offset, page = await every.page(aimed)
        lo, hi = every.covered_by(offset, page)
        if not (lo < target[1] and hi > target[0]):
            return False

"""The links created since a position on PIK's list, read from the list's newest end.

Bulk creation asks this when a POST got no answer: the link may or may not exist, and it
can only be found by listing. Before the POST went out, the ledger recorded a position: the
`total` of an answer of the unfiltered list. PIK never removes a link, so that answer counted
every link that existed then, and a link created later lies beyond that count. Ordered by
creation and counted from the oldest link, the link at offset `o` of an answer whose total
is T is number T - o - 1 when newest first (new links join at offset 0) and number `o` when
oldest first (new links join at the end): either way a link's number never changes, and the
links beyond the position are one end of the list. Read page after page from that end, the
pages cover every number from the newest down to the position without a gap, so every link
beyond the position that existed when the read began is among them: a link not found there
was not created. Only PIK's answers are compared: its totals, and its `created_at`s with each
other to see the order (listorder.py, the rule the sync reads it by too), never with our
clock. A page in no creation order, a page holding fewer links than its total says are there,
or a total that shrank proves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pik_recon.client import PAGE_LIMIT, Page, PikClient
from pik_recon.listorder import Order, in_order, order_of


@dataclass(frozen=True)
class Newest:
    records: list[Any]  # every link read
    proven: bool  # every link beyond the position that existed when the read began is read


def _full(page: Page, offset: int) -> bool:
    """The page holds every link its total says lies at its offsets."""
    return page.count >= min(PAGE_LIMIT, page.total - offset)


class NewestLinks:
    """Reads the unfiltered list from its newest end; remembers the last total answered."""

    def __init__(self, client: PikClient) -> None:
        self.client = client
        self.total = 0  # the last total answered: a position for any POST sent after it

    async def _page(self, offset: int, limit: int = PAGE_LIMIT) -> Page:
        page = await self.client.list_page(None, offset, limit)
        self.total = page.total
        return page

    async def position(self) -> int:
        """The number of links now: every link created after this answer lies beyond it."""
        return (await self._page(0, 1)).total

    async def since(self, position: int) -> Newest:
        """Every link beyond `position`, with whether that is proven complete."""
        first = await self._page(0)
        if first.total < position or not _full(first, 0):
            return Newest(first.data, False)
        if first.count >= first.total or first.total == position:  # one instant says it all
            return Newest(first.data, True)
        order = order_of(first.data)
        if order is Order.NEWEST:
            return await self._from_the_top(first, position)
        if order is Order.OLDEST:
            return await self._from_position(position)
        return Newest(first.data, False)

    async def _from_the_top(self, first: Page, position: int) -> Newest:
        """Newest first: a page at offset o holds numbers T - o - count to T - o - 1; the
        next page, 100 further, starts at or above where this one ended, however much the
        list grew in between."""
        found, page, offset = list(first.data), first, 0
        while page.total - offset - page.count > position:
            offset, before = offset + PAGE_LIMIT, page.total
            page = await self._page(offset)
            found += page.data
            if (page.total < before or not _full(page, offset)
                    or not in_order(page.data, Order.NEWEST)):
                return Newest(found, False)
        return Newest(found, True)

    async def _from_position(self, position: int) -> Newest:
        """Oldest first: a page at offset o holds numbers o to o + count - 1; read from the
        position to the end."""
        found: list[Any] = []
        offset, before = position, position
        while True:
            page = await self._page(offset)
            found += page.data
            if (page.total < before or not _full(page, offset)
                    or not in_order(page.data, Order.OLDEST)):
                return Newest(found, False)
            if offset + page.count >= page.total:
                return Newest(found, True)
            offset, before = offset + page.count, page.total

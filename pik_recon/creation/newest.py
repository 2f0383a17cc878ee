"""The links created since a position on PIK's list, read from the list's newest end.

Bulk creation asks this when a POST got no answer: the link may or may not exist, and it
can only be found by listing. Before the POST went out, the ledger recorded a position: the
`total` of an answer of the unfiltered list. PIK never removes a link, so that answer counted
every link that existed then, and a link created later lies beyond that count. Ordered by
creation and counted from the oldest link, the link at offset `o` of an answer whose total
is T is number T - o - 1 when newest first (new links join at offset 0) and number `o` when
oldest first (new links join at the end): either way a link's number never changes, and the
links beyond the position are one end of the list. Read page after page from that end, each
page from the last link of the one before, which must stand where the numbering puts it
(pushed down by as many places as the total grew, newest first), the pages join and cover
every number from the newest down to the position without a gap, so every link beyond the
position that existed when the read began is among them: a link not found there was not
created. Only PIK's answers are compared: its totals, and its `created_at`s with each
other to see the order (listorder.py, the rule the sync reads it by too), never with our
clock. A page in no creation order, a page holding fewer links than its total says are there,
or a total that shrank proves nothing.

Pages that look ordered do not prove that the list is: a list that PIK serves from a
different starting point each time (any order is allowed) shows sorted pages whose offset 0
is not its newest link. So a position also names its anchor, the newest link when its total
was answered (number T - 1). Read again later, the anchor must stand exactly where the
numbering puts it, at offset T' - T newest first and T - 1 oldest first, in two answers, or
the read proves nothing: a list served from a different start each time shows it in place
once in as many reads as it holds links, twice hardly ever. A position without an anchor (a
list whose order its answer did not show) is read from the list's start, through its whole
length: pages served from different starts do not join, and pages all from one wrong start
join but show the oldest link next to the newest in one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pik_recon.client import PAGE_LIMIT, Page, PikClient
from pik_recon.listorder import Order, in_order, order_of


@dataclass(frozen=True)
class Position:
    """A point on the unfiltered list: the `total` of one answer and the id of the link that
    was the newest then (None when the answer did not show which one it was)."""

    total: int
    anchor: str | None = None


START = Position(0)  # every link lies beyond it


@dataclass(frozen=True)
class Newest:
    records: list[Any]  # every link read
    proven: bool  # every link beyond the position that existed when the read began is read


def _full(page: Page, offset: int) -> bool:
    """The page holds every link its total says lies at its offsets."""
    return page.count >= min(PAGE_LIMIT, page.total - offset)


def _id(page: Page, index: int) -> str | None:
    """The id of the link at `index` of the page, if the page holds one there."""
    if not 0 <= index < page.count or not isinstance(page.data[index], dict):
        return None
    found = page.data[index].get("id")
    return str(found) if found is not None else None


class NewestLinks:
    """Reads the unfiltered list from its newest end."""

    def __init__(self, client: PikClient) -> None:
        self.client = client

    async def _page(self, offset: int, limit: int = PAGE_LIMIT) -> Page:
        return await self.client.list_page(None, offset, limit)

    async def position(self) -> Position:
        """The list now: every link created after this answer lies beyond it, and the newest
        link it held, found at the end its order shows."""
        first = await self._page(0)
        order = order_of(first.data)
        if first.total == 0 or not _full(first, 0):
            return Position(first.total)
        if first.total == 1 or order is Order.NEWEST:
            return Position(first.total, _id(first, 0))
        if order is Order.OLDEST:
            if first.count >= first.total:
                return Position(first.total, _id(first, first.total - 1))
            last = await self._page(first.total - 1, 1)  # number total - 1 stays there
            if last.total >= first.total and in_order(first.data + last.data, Order.OLDEST):
                return Position(first.total, _id(last, 0))
        return Position(first.total)

    async def since(self, position: Position) -> Newest:
        """Every link beyond `position`, with whether that is proven complete."""
        first = await self._page(0)
        if first.total < position.total or not _full(first, 0):
            return Newest(first.data, False)
        if first.count >= first.total or first.total == position.total:  # one instant says it all
            return Newest(first.data, True)
        bound = position if position.anchor is not None else START
        order = order_of(first.data)
        if order is Order.NEWEST:
            return await self._from_the_top(first, bound)
        if order is Order.OLDEST:
            return await self._from_position(bound)
        return Newest(first.data, False)

    async def _from_the_top(self, first: Page, position: Position) -> Newest:
        """Newest first: a page at offset o holds numbers T - o - count to T - o - 1. Each
        next page starts at this one's last link, which the links created in between push
        down by as many places as the total grew: it must stand there, so the pages join
        without a gap or a jump. The read goes down to the anchor, number position - 1."""
        found, page, offset = list(first.data), first, 0
        while page.total - offset - page.count > max(position.total - 1, 0):
            last, before = _id(page, page.count - 1), page.total
            offset += page.count - 1
            page = await self._page(offset)
            grown = page.total - before
            if (grown < 0 or not _full(page, offset) or not in_order(page.data, Order.NEWEST)
                    or last is None or _id(page, grown) != last):
                return Newest(found + page.data, False)
            found += page.data[grown + 1:]
        if position.total:
            place = page.total - position.total  # the anchor's offset; it moves down as the
            again = await self._page(place)  # list grows, so it is read from there
            if (_id(page, place - offset) != position.anchor
                    or _id(again, again.total - position.total - place) != position.anchor):
                return Newest(found, False)
        return Newest(found, True)

    async def _from_position(self, position: Position) -> Newest:
        """Oldest first: a page at offset o holds numbers o to o + count - 1; read from the
        anchor, number position - 1, to the end, each page from the last link of the one
        before, which must stand there."""
        found: list[Any] = []
        start = offset = before = max(position.total - 1, 0)
        last: str | None = None
        while True:
            page = await self._page(offset)
            if (page.total < before or not _full(page, offset)
                    or not in_order(page.data, Order.OLDEST)
                    or (offset > start and (last is None or _id(page, 0) != last))):
                return Newest(found + page.data, False)
            found += page.data if offset == start else page.data[1:]
            if offset == position.total - 1 and not (
                    _id(page, 0) == position.anchor
                    and _id(await self._page(offset, 1), 0) == position.anchor):
                return Newest(found, False)
            if offset + page.count >= page.total:
                return Newest(found, True)
            last, before = _id(page, page.count - 1), page.total
            offset += page.count - 1

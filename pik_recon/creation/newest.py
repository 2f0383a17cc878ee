"""The links created since a position on PIK's list, read from the list's newest end.

Bulk creation asks this when a POST got no answer: the link may or may not exist, and it
can only be found by listing. Before the POST went out, the ledger recorded a position: the
`total` of an answer of the unfiltered list. PIK never removes a link, so that answer counted
every link that existed then, and a link created later lies beyond that count. Ordered by
creation and counted from the oldest link, the link at offset `o` of an answer whose total
is T is number T - o - 1 when newest first (new links join at offset 0) and number `o` when
oldest first (new links join at the end): either way a link's number never changes, and the
links beyond the position are one end of the list. Read page after page from that end, each
page from a link of the one before (its join), which must stand where the numbering puts it
(pushed down by as many places as the total grew, newest first), the pages join and cover
every number from the newest down to the position without a gap, so every link beyond the
position that existed when the read began is among them: a link not found there was not
created. Only PIK's answers are compared: its totals, and its `created_at`s with each
other to see the order (listorder.py, the rule the sync reads it by too), never with our
clock. A page in no creation order, a page holding fewer links than its total says are there,
or a total that shrank proves nothing.

Links stamped alike may come in any order among themselves from one answer to the next, so
a number is held only by a link whose stamp is its own: a page joins the next at such a link,
and the anchor (below) is one.

Pages that look ordered do not prove that the list is: a list that PIK serves from a
different starting point each time (any order is allowed) shows sorted pages whose offset 0
is not its newest link. So a position also names its anchor: the link nearest the newest
end of its answer that is alone in its stamp, short of the newest (a link created later may
be stamped like the newest), and the position's total counts the links up to it, so the
anchor is number total - 1. Read again later, the anchor must stand exactly where the
numbering puts it, at offset T' - total newest first and total - 1 oldest first, with the
link below it stamped strictly before it, in two answers, or the read proves nothing: a list
served from a different start each time shows it in place once in as many reads as it holds
links, twice hardly ever. A position without an anchor (a list whose order its answer did
not show, or with no link alone in its stamp) is read from the list's start, through its
whole length: pages served from different starts do not join, and pages all from one wrong
start join but show the oldest link next to the newest in one of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pik_recon.client import PAGE_LIMIT, Page, PikClient
from pik_recon.listorder import Order, created_at, in_order, order_of


@dataclass(frozen=True)
class Position:
    """A point on the unfiltered list: every link created after it lies beyond `total`;
    `anchor`, the link numbered total - 1 (None when the answer did not show one)."""

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
        """The list now: every link created after this answer lies beyond it. Its anchor is
        the link nearest the newest end whose stamp no other link shares, short of the
        newest (a link created later may be stamped like it); the position is counted from
        the anchor, so the few links above it are read again by a look-up."""
        first = await self._page(0)
        order = order_of(first.data)
        if first.total == 0 or not _full(first, 0):
            return Position(first.total)
        if order is Order.NEWEST:
            index = next(_alone(first, Order.NEWEST), None)
            if index is not None:
                return Position(first.total - index, _id(first, index))
        if order is Order.OLDEST:
            offset = max(first.total - PAGE_LIMIT, 0)
            last = first if offset == 0 else await self._page(offset)  # numbers stay put
            if (last.total >= first.total and _full(last, offset)
                    and in_order(last.data, Order.OLDEST)):
                index = next(_alone(last, Order.OLDEST), None)
                if index is not None:
                    return Position(offset + index + 1, _id(last, index))
        return Position(first.total)

    async def since(self, position: Position) -> Newest:
        """Every link beyond `position`, with whether that is proven complete."""
        first = await self._page(0)
        if first.total < position.total or not _full(first, 0):
            return _newest(first.data, False)
        if first.count >= first.total or first.total == position.total:  # one instant says it all
            return _newest(first.data, True)
        bound = position if position.anchor is not None else START
        order = order_of(first.data)
        if order is Order.NEWEST:
            return await self._from_the_top(first, bound)
        if order is Order.OLDEST:
            return await self._from_position(bound, first.total)
        return _newest(first.data, False)

    async def _from_the_top(self, first: Page, position: Position) -> Newest:
        """Newest first: read down past the anchor, at offset T - P of an answer whose total
        is T, to the link after it. Each next page starts at a join, a link of this page
        whose stamp no other link shares; the links created in between push it down by as
        many places as the total grew, and it must stand there."""
        found, page, offset = list(first.data), first, 0
        while offset + page.count < min(page.total, page.total - position.total + 2):
            join = _join(page, Order.NEWEST)
            if join is None:
                return _newest(found, False)
            last, before = _id(page, join), page.total
            offset += join
            page = await self._page(offset)
            found += page.data
            grown = page.total - before
            if (grown < 0 or not _full(page, offset) or not in_order(page.data, Order.NEWEST)
                    or _id(page, grown) != last):
                return _newest(found, False)
        if position.total:
            place = page.total - position.total  # the anchor's offset; it moves down as the
            again = await self._page(place)  # list grows, so it is read from there
            index = again.total - position.total - place
            if not (_anchored(page, place - offset, position, place - offset + 1)
                    and _anchored(again, index, position, index + 1)):
                return _newest(found, False)
        return _newest(found, True)

    async def _from_position(self, position: Position, total: int) -> Newest:
        """Oldest first: read from the link before the anchor (number P - 2) to the end,
        each next page from a join of this one, which must stand at its first place."""
        found: list[Any] = []
        start = offset = max(position.total - 2, 0)
        last, before = None, total
        while True:
            page = await self._page(offset)
            found += page.data
            if (page.total < before or not _full(page, offset)
                    or not in_order(page.data, Order.OLDEST)
                    or (offset > start and (last is None or _id(page, 0) != last))):
                return _newest(found, False)
            if offset == start and position.total:
                index, older = position.total - 1 - start, position.total - 2 - start
                again = await self._page(start, index + 1)
                if not (_anchored(page, index, position, older)
                        and _anchored(again, index, position, older)):
                    return _newest(found, False)
            if offset + page.count >= page.total:
                return _newest(found, True)
            join = _join(page, Order.OLDEST)
            if join is None:
                return _newest(found, False)
            last, before = _id(page, join), page.total
            offset += join


def _newest(found: list[Any], proven: bool) -> Newest:
    """The links read, each once: pages overlap at their joins, and a list that moves
    between reads shows some links twice."""
    seen: set[str] = set()
    records = []
    for record in found:
        key = _key(record)
        if key is None or key not in seen:
            records.append(record)
            if key is not None:
                seen.add(key)
    return Newest(records, proven)


def _key(record: Any) -> str | None:
    found = record.get("id") if isinstance(record, dict) else None
    return str(found) if found is not None else None


def _older(record: Any, than: Any) -> bool:
    """`record` was stamped strictly before `than` (both stamped, comparably)."""
    a, b = created_at(record), created_at(than)
    try:
        return a is not None and b is not None and a < b
    except TypeError:  # one stamp with a time zone, the other without
        return False


def _alone(page: Page, order: Order) -> Iterator[int]:
    """The indexes of the links stamped strictly between their neighbours on the page,
    nearest the list's newest end first: no other link shares such a stamp, so every
    answer ordered by creation puts the link at the same number, whatever order it gives
    links stamped alike."""
    data = page.data
    indexes = (range(1, page.count - 1) if order is Order.NEWEST
               else range(page.count - 2, 0, -1))
    for index in indexes:
        newer, older = ((data[index - 1], data[index + 1]) if order is Order.NEWEST
                        else (data[index + 1], data[index - 1]))
        if _older(older, data[index]) and _older(data[index], newer):
            yield index


def _join(page: Page, order: Order) -> int | None:
    """Where the next page starts: the link of this page nearest its end that is alone in
    its stamp."""
    return max(_alone(page, order), default=None)


def _anchored(page: Page, index: int, position: Position, older: int) -> bool:
    """The anchor stands at `index`, and the link numbered just below it, at `older`, is
    stamped strictly before it."""
    return (_id(page, index) == position.anchor and 0 <= older < page.count
            and _older(page.data[older], page.data[index]))

"""The links created since a position on PIK's list, read from the list's newest end.

Bulk creation asks this when a POST got no answer: the link may or may not exist, and it
can only be found by listing. Before the POST went out, the ledger recorded a position: the
`total` of an answer of the unfiltered list. PIK never removes a link, so that answer counted
every link that existed then, and PIK stamps links as it creates them, so a link created
later is stamped no earlier than any link of that answer. Only PIK's answers are compared:
its totals, and its `created_at`s with each other (listorder.py, the rule the sync reads the
order by too), never with our clock. A page in no creation order, a page holding fewer or
more links than its total says lie at its offsets, or a total below the position's or the
look-up's first proves nothing; and the list's end is shown by a page that ends short, never
by a total alone, which may lag the list it counts.

Links stamped alike may come in any order among themselves from one answer to the next, so
the list is cut where stamps change: at a boundary, two neighbours stamped differently, the
number of links stamped at or before the older stamp is the same in every answer ordered by
creation, whatever order it gives the links on either side. A position names one boundary,
below the newest stamp of its answer (a link created later may share that stamp): `anchor`,
the stamp just below it, and `below`, how many links are stamped at or before it. Every link
created since lies above that boundary, and a look-up reads from the newest end down to it.
Page after page, each next page starts one link before the last boundary of the page before,
and must show the same two stamps there (pushed down by as many places as the total grew,
newest first), so the pages join without a gap or a jump; a page without a boundary proves
nothing.

Pages that look ordered do not prove that the list is: a list that PIK serves from a
different starting point each time (any order is allowed) shows sorted pages whose offset 0
is not its newest link. So the look-up also finds the boundary exactly where `below` puts
it, in two answers, or proves nothing: a list served from a different start each time shows
it there once in as many reads as it holds links, twice hardly ever. A position without a
boundary (a list whose order its answer did not show, or a first page stamped all alike) is
read through the whole list: pages served from different starts do not join, and pages all
from one wrong start join but show the oldest link next to the newest in one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pik_recon.client import PAGE_LIMIT, Page, PikClient
from pik_recon.listorder import (
    Order,
    before,
    created_at,
    in_order,
    order_of,
    same,
    stamp,
    stamped_in_order,
)


@dataclass(frozen=True)
class Position:
    """A point on the unfiltered list: every link created after it lies beyond `total`.
    `anchor`: the stamp (as PIK wrote it) of the newest links below the position's boundary,
    `below` how many links are stamped at or before it (None, 0: no boundary known)."""

    total: int
    anchor: str | None = None
    below: int = 0


START = Position(0)  # every link lies beyond it


@dataclass(frozen=True)
class Newest:
    records: list[Any]  # every link read, each once
    proven: bool  # every link beyond the position that existed when the read began is read


def _full(page: Page, offset: int) -> bool:
    """The page holds exactly as many links as its total says lie at its offsets: none
    hidden, and none beyond a total that lags its own list."""
    return min(PAGE_LIMIT, page.total - offset) <= page.count <= max(page.total - offset, 0)


def _stamp(page: Page, index: int) -> datetime | None:
    return created_at(page.data[index]) if 0 <= index < page.count else None


def _boundaries(page: Page, order: Order) -> list[int]:
    """The indexes `i` where the page's stamps change between `i - 1` and `i`, nearest its
    start first."""
    stamps = [created_at(record) for record in page.data]
    if order is Order.NEWEST:
        return [i for i in range(1, page.count) if before(stamps[i], stamps[i - 1])]
    return [i for i in range(1, page.count) if before(stamps[i - 1], stamps[i])]


class NewestLinks:
    """Reads the unfiltered list from its newest end."""

    def __init__(self, client: PikClient) -> None:
        self.client = client

    async def _page(self, offset: int, limit: int = PAGE_LIMIT) -> Page:
        return await self.client.list_page(None, offset, limit)

    async def position(self) -> Position:
        """The list now, and its boundary nearest the newest end below the newest stamp:
        on the first page newest first, else on the last page if that is oldest first (the
        oldest links' stamps have no say in it)."""
        first = await self._page(0)
        if first.total == 0 or not _full(first, 0):
            return Position(first.total)
        if order_of(first.data) is Order.NEWEST:
            cuts = _boundaries(first, Order.NEWEST)
            if cuts:
                return Position(first.total, first.data[cuts[0]]["created_at"],
                                first.total - cuts[0])
            return Position(first.total)
        if not stamped_in_order(first.data, Order.OLDEST):
            return Position(first.total)
        offset = max(first.total - PAGE_LIMIT, 0)
        last = first if offset == 0 else await self._page(offset)  # numbers stay put
        if (last.total >= first.total and _full(last, offset)
                and in_order(last.data, Order.OLDEST)):
            cuts = _boundaries(last, Order.OLDEST)
            if cuts:
                return Position(first.total, last.data[cuts[-1] - 1]["created_at"],
                                offset + cuts[-1])
        return Position(first.total)

    async def since(self, position: Position) -> Newest:
        """Every link beyond `position`, with whether that is proven complete."""
        first = await self._page(0)
        if first.total < position.total or not _full(first, 0):
            return _newest(first.data, False)
        if first.count < PAGE_LIMIT:  # the whole list, its end shown by the data itself
            return _newest(first.data, True)
        bound = position if position.anchor is not None and position.below else START
        order = order_of(first.data)
        if order is Order.NEWEST:
            if first.total == position.total:  # none since; any a late total missed is here
                return _newest(first.data, True)
            return await self._from_the_top(first, bound)
        if (order is Order.OLDEST and not bound.below) or _oldest_front(first, bound):
            return await self._from_position(bound, first.total)
        return _newest(first.data, False)

    async def _from_the_top(self, first: Page, position: Position) -> Newest:
        """Newest first: the boundary lies at offset T - below of an answer whose total is
        T; read down to the page that holds it, or without one to a page that ends short."""
        below, anchor = position.below, stamp(position.anchor)
        found, page, offset = list(first.data), first, 0
        while (offset + page.count < page.total - (below - 1) if below
               else page.count >= PAGE_LIMIT):
            cuts = _boundaries(page, Order.NEWEST)
            if not cuts or cuts[-1] < 2:
                return _newest(found, False)
            newer, older = _stamp(page, cuts[-1] - 1), _stamp(page, cuts[-1])
            earlier, step = page.total, cuts[-1] - 1
            offset += step
            page = await self._page(offset)
            found += page.data
            grown = page.total - earlier
            if (grown < 0 or grown >= step or not _full(page, offset)
                    or not in_order(page.data, Order.NEWEST)
                    or not same(_stamp(page, grown), newer)
                    or not same(_stamp(page, grown + 1), older)):
                return _newest(found, False)
        if below:
            place = page.total - below  # the boundary's offset; it moves down as the list
            again = await self._page(place - 1)  # grows, so it is read from there
            if not (_cut(page, place - offset, anchor, Order.NEWEST)
                    and again.total >= page.total
                    and _cut(again, again.total - below - place + 1, anchor, Order.NEWEST)):
                return _newest(found, False)
        return _newest(found, True)

    async def _from_position(self, position: Position, total: int) -> Newest:
        """Oldest first: the boundary lies between offsets below - 1 and below; read from
        the link before it, or from the start without one, to a page that ends short."""
        found: list[Any] = []
        start = offset = max(position.below - 1, 0)
        anchor = stamp(position.anchor)
        newer = older = None
        earlier = total
        while True:
            page = await self._page(offset)
            found += page.data
            if (page.total < earlier or not _full(page, offset)
                    or not in_order(page.data, Order.OLDEST)
                    or (offset > start and not (same(_stamp(page, 0), older)
                                                and same(_stamp(page, 1), newer)))):
                return _newest(found, False)
            if offset == start and position.below:
                again = await self._page(start, 2)
                if not (_cut(page, 1, anchor, Order.OLDEST) and again.total >= page.total
                        and _cut(again, 1, anchor, Order.OLDEST)):
                    return _newest(found, False)
            if page.count < PAGE_LIMIT:
                return _newest(found, True)
            cuts = _boundaries(page, Order.OLDEST)
            if not cuts or cuts[-1] < 2:
                return _newest(found, False)
            older, newer = _stamp(page, cuts[-1] - 1), _stamp(page, cuts[-1])
            earlier = page.total
            offset += cuts[-1] - 1


def _oldest_front(first: Page, position: Position) -> bool:
    """The first page may be the oldest end of the list whose boundary `position` names:
    its readable stamps oldest first (one that cannot be read tells nothing), and none of
    the links before the boundary stamped after the anchor. A list whose front is in
    another order (its newest link first, or its links grouped by status) shows it there,
    where new links could hide from a read from the boundary on."""
    anchor = stamp(position.anchor)
    return (position.below > 0 and stamped_in_order(first.data, Order.OLDEST)
            and not any(before(anchor, created_at(record))
                        for record in first.data[:position.below]))


def _cut(page: Page, index: int, anchor: datetime | None, order: Order) -> bool:
    """The position's boundary lies just before `index` of the page: the link there (newest
    first) or before it (oldest first) is stamped with the anchor, and its neighbour across
    the boundary strictly after it."""
    if order is Order.NEWEST:
        return same(_stamp(page, index), anchor) and before(anchor, _stamp(page, index - 1))
    return same(_stamp(page, index - 1), anchor) and before(anchor, _stamp(page, index))


def _newest(found: list[Any], proven: bool) -> Newest:
    """The links read, each once: pages overlap at their joins, and a list that moves
    between reads shows some links twice."""
    seen: set[str] = set()
    records = []
    for record in found:
        key = record.get("id") if isinstance(record, dict) else None
        if key is None or repr(key) not in seen:  # 1 and "1" are two ids
            records.append(record)
            if key is not None:
                seen.add(repr(key))
    return Newest(records, proven)

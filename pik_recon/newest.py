"""The newest links on PIK: every link created since a moment, read from the newest end.

Bulk creation asks this when a POST got no answer: the link may or may not exist, and it
can only be found by listing. PIK's unfiltered list holds every link, whatever its status,
and only grows; ordered by creation time, the links created since a moment are one end of
it. Read page after page from that end (offset 0 onwards when newest first, backwards from
the last page when oldest first), a list that only grows cannot skip a link: an addition
only pushes links towards pages still to come, or lands beyond the pages read, after the
read began. So a link that existed when the read began and is not among the pages was not
created since the moment: its absence is proven. When a page shows the list is not in
creation order, the whole list is read and absence is not proven.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pik_recon.client import PAGE_LIMIT, Page, PikClient
from pik_recon.links import created_at


@dataclass(frozen=True)
class Newest:
    records: list[Any]  # every link read that was created since the moment (or all read)
    proven: bool  # no other link created since the moment existed when the read began


def _in_order(records: list[Any], newest_first: bool) -> bool:
    stamps = [created_at(r) for r in records]
    if any(s is None for s in stamps):
        return False
    pairs = itertools.pairwise(stamps)
    return all(a >= b if newest_first else a <= b for a, b in pairs)  # type: ignore[operator]


def _since(records: list[Any], moment: datetime) -> list[Any]:
    return [r for r in records if (created_at(r) or moment) >= moment]


class NewestLinks:
    """Reads the newest end of the unfiltered list; remembers which end that is."""

    def __init__(self, client: PikClient) -> None:
        self.client = client
        self.newest_first: bool | None = None
        self.pages = 0
        self._total = 0  # the list's length when last read

    async def _page(self, offset: int) -> Page:
        self.pages += 1
        page = await self.client.list_page(None, offset, PAGE_LIMIT)
        self._total = page.total
        return page

    async def since(self, moment: datetime) -> Newest:
        """Every link created at or after `moment`, with whether that is proven complete."""
        if self.newest_first is False:
            return await self._from_the_end(moment, None)
        first = await self._page(0)
        if first.count >= first.total:  # the whole list in one answer: one instant
            return Newest(_since(first.data, moment), True)
        if _in_order(first.data, newest_first=True) and self.newest_first is not False:
            self.newest_first = True
            return await self._from_the_top(first, moment)
        if _in_order(first.data, newest_first=False):
            self.newest_first = False
            return await self._from_the_end(moment, first.total)
        return await self._everything(first, moment)

    async def _from_the_top(self, first: Page, moment: datetime) -> Newest:
        found, page, offset = _since(first.data, moment), first, 0
        while created_at(page.data[-1]) >= moment and offset + PAGE_LIMIT < page.total:  # type: ignore[operator]
            offset += PAGE_LIMIT
            page = await self._page(offset)
            if not page.data:
                break
            if not _in_order(page.data, newest_first=True):
                return await self._everything(first, moment)
            found += _since(page.data, moment)
        return Newest(found, True)

    async def _from_the_end(self, moment: datetime, total: int | None) -> Newest:
        """Pages backwards from the end; `total` None: the end is where it last was, and
        the first answer tells how far it has moved since."""
        found: list[Any] = []
        end = total if total is not None else self._total
        while end > 0:
            offset = max(0, end - PAGE_LIMIT)
            page = await self._page(offset)
            if total is None and offset + page.count < page.total:  # the list grew: its end
                total = end = page.total
                continue
            total = page.total
            if not _in_order(page.data, newest_first=False):
                return await self._everything(await self._page(0), moment)
            found += _since(page.data, moment)
            if not page.data or (created_at(page.data[0]) or moment) < moment:
                break
            end -= PAGE_LIMIT
        return Newest(found, True)

    async def _everything(self, first: Page, moment: datetime) -> Newest:
        self.newest_first = None
        found, offset, total = list(first.data), 0, first.total
        while offset + PAGE_LIMIT < total:
            offset += PAGE_LIMIT
            page = await self._page(offset)
            found += page.data
            total = page.total
        return Newest(_since(found, moment), False)

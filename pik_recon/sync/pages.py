"""Fetching for one sync: list pages and single links, within a request budget.

Every page goes to the batch writer as PIK sent it; the pager keeps only what the sync
decides with: totals, counts, and the ids that PIK no longer knows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, TypeVar

from pik_recon.client import PAGE_LIMIT, Page, PikClient, single_page
from pik_recon.errors import ForeignWarehouseError, NotFoundError
from pik_recon.logs import get_logger
from pik_recon.sync.store import MergeResult
from pik_recon.sync.writer import AccountWriter

log = get_logger("sync")
T = TypeVar("T")


class Progress(Protocol):
    def add_pages(self, pages: int) -> None: ...
    def advance(self, pages: int = 1) -> None: ...
    def set_budget(self, limit: int) -> None: ...
    def waiting(self, note: str | None) -> None: ...


class NoProgress:
    def add_pages(self, pages: int) -> None:
        return None

    def advance(self, pages: int = 1) -> None:
        return None

    def set_budget(self, limit: int) -> None:
        return None

    def waiting(self, note: str | None) -> None:
        return None


class BudgetSpent(Exception):  # control flow within the sync, never shown
    """The sync's request budget is spent."""


class Budget:
    """Requests a sync may send (retries of one request count once); None until known."""

    def __init__(self) -> None:
        self.limit: int | None = None
        self.spent = 0

    def charge(self) -> None:
        if self.limit is not None and self.spent >= self.limit:
            raise BudgetSpent
        self.spent += 1


class Pager:
    """The sync's requests: charged to the budget, counted on the progress bar, ingested."""

    def __init__(self, client: PikClient, writer: AccountWriter, concurrency: int,
                 progress: Progress, max_vanished: int) -> None:
        self.client = client
        self.writer = writer
        self.concurrency = concurrency
        self.progress = progress
        self.max_vanished = max_vanished
        self.budget = Budget()
        self.by_id = 0
        self.vanished: list[str] = []  # marked in the warehouse only once the sync is verified

    async def page(self, status: str | None, offset: int | Callable[[], int]) -> Page:
        """One list page (status None: every link), buffered for the warehouse; `offset`
        may be a function, asked before every attempt (PikClient.list_page)."""
        self.budget.charge()
        try:
            page = await self.client.list_page(status, offset, PAGE_LIMIT)
        finally:
            self.progress.advance()
        await self.writer.ingest(page, status)
        return page

    async def page_now(self, status: str | None, offset: int) -> tuple[Page, MergeResult]:
        """One list page, merged before returning: with what it brought that was news."""
        self.budget.charge()
        try:
            page = await self.client.list_page(status, offset, PAGE_LIMIT)
        finally:
            self.progress.advance()
        return page, await self.writer.ingest_now(page, status)

    async def links(self, ids: list[str]) -> None:
        """Fetch single links by id (paging nothing, so nothing shifts); a 404 is a link
        PIK no longer has, noted in `vanished`. More than
        `max_vanished` of them stop the sync at once: PIK does not delete links, so the
        warehouse is another account's."""
        self.progress.add_pages(len(ids))

        async def fetch(link_id: str) -> None:
            self.budget.charge()
            try:
                record = await self.client.get_link(link_id)
            except NotFoundError:
                self.vanished.append(link_id)
                if len(self.vanished) > self.max_vanished:
                    raise ForeignWarehouseError(len(self.vanished), self.max_vanished) from None
                log.warning("link %s is no longer on PIK", link_id)
                return
            finally:
                self.progress.advance()
            self.by_id += 1
            await self.writer.ingest(single_page(record), None)

        await self.each(ids, fetch)
        await self.writer.drain()

    async def each(self, jobs: Iterable[T], work: Callable[[T], Awaitable[None]]) -> None:
        """Run `work` on every job, `concurrency` at a time, in the jobs' order."""
        queue = list(jobs)[::-1]

        async def worker() -> None:
            while queue:
                await work(queue.pop())

        await gather(worker() for _ in range(min(self.concurrency, len(queue))))


async def gather(coros: Iterable[Awaitable[T]]) -> list[T]:
    """Run together; the first failure cancels the rest and is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coros]  # type: ignore[arg-type]
    except BaseExceptionGroup as group_error:
        first: BaseException = group_error
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [t.result() for t in tasks]

"""Fetching for one sync run of one list: pages and single records, within a request budget.

Every page goes to the batch writer as PIK sent it; the pager keeps only what the sync
decides with: totals, counts, and the ids PIK no longer knows. It is the one place requests
are counted (counts.py) and shown on the progress bar: the rest of the sync only says how
many it expects to send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, TypeVar

from pik_recon.client import PAGE_LIMIT, Page, PikClient, single_page
from pik_recon.errors import ForeignWarehouseError, NotFoundError
from pik_recon.logs import get_logger
from pik_recon.sync.counts import RequestCounts
from pik_recon.sync.resource import Resource
from pik_recon.sync.store import MergeResult
from pik_recon.sync.writer import RunWriter

log = get_logger("sync")
T = TypeVar("T")


class Progress(Protocol):
    """A progress bar of requests (the CLI's, one per account)."""

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


class Pager:
    """One run's requests of one list: charged to its budget, counted, shown, ingested."""

    def __init__(self, client: PikClient, writer: RunWriter, resource: Resource,
                 concurrency: int, progress: Progress, max_vanished: int) -> None:
        self.client = client
        self.writer = writer
        self.resource = resource
        self.concurrency = concurrency
        self.max_vanished = max_vanished
        self.counts = RequestCounts()
        self.by_id = 0  # records fetched by id and found
        self.vanished: list[str] = []  # marked in the warehouse only once the sync is verified
        self._progress = progress
        self._shown = 0  # requests the progress bar counts on, so far

    def start_budget(self, limit: int) -> None:
        self.counts.budget = limit
        self._progress.set_budget(limit)

    def expect(self, requests: int) -> None:
        """The requests this run expects to send in all, for the progress bar (a request
        beyond them adds itself)."""
        if requests > self._shown:
            self._progress.add_pages(requests - self._shown)
            self._shown = requests

    async def _send(self, request: Callable[[], Awaitable[T]]) -> T:
        """Charge one request to the budget, then send it, shown while it runs."""
        counts = self.counts
        if counts.budget is not None and counts.spent >= counts.budget:
            raise BudgetSpent
        counts.spent += 1
        self.expect(counts.spent)
        try:
            return await request()
        finally:
            self._progress.advance()

    def _list(self, status: str | None, offset: int | Callable[[], int]
              ) -> Callable[[], Awaitable[Page]]:
        return lambda: self.client.list_page(status, offset, PAGE_LIMIT,
                                             path=self.resource.path, stats=self.counts)

    async def page(self, status: str | None, offset: int | Callable[[], int]) -> Page:
        """One list page (status None: every record), buffered for the warehouse; `offset`
        may be a function, asked before every attempt (PikClient.list_page)."""
        page = await self._send(self._list(status, offset))
        await self.writer.ingest(page, status)
        return page

    async def page_now(self, status: str | None, offset: int) -> tuple[Page, MergeResult]:
        """One list page, merged before returning: with what it brought that was news."""
        page = await self._send(self._list(status, offset))
        return page, await self.writer.ingest_now(page, status)

    async def by_ids(self, ids: list[str]) -> int:
        """Fetch single records by id (paging nothing, so nothing shifts), merged before
        returning; how many PIK returned. A 404 is a record PIK no longer has, noted in
        `vanished`. More than `max_vanished` of them stop the sync at once: PIK deletes
        nothing, so the warehouse is another account's."""
        found_before = self.by_id
        self.expect(self.counts.spent + len(ids))

        async def fetch(record_id: str) -> None:
            try:
                record = await self._send(lambda: self.client.get_one(
                    self.resource.path, record_id, stats=self.counts))
            except NotFoundError:
                self.vanished.append(record_id)
                if len(self.vanished) > self.max_vanished:
                    raise ForeignWarehouseError(len(self.vanished), self.max_vanished,
                                                self.resource.noun) from None
                log.warning("%s %s is no longer on PIK", self.resource.noun, record_id)
                return
            self.by_id += 1
            await self.writer.ingest(single_page(record), None)

        await self.each(ids, fetch)
        await self.writer.drain()
        return self.by_id - found_before

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

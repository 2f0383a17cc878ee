"""`pik-recon sync`: page every link into the warehouse and prove the result complete.

A full sync sweeps every status, then settles: links the warehouse holds as active are
fetched by id when they may have changed, each status is caught up from the top of its list
(or swept again) until the warehouse's count per status equals PIK's `total`.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pik_recon.client import PAGE_LIMIT, Page, PikClient, single_page
from pik_recon.config import SyncSettings
from pik_recon.errors import NotFoundError
from pik_recon.links import STATUSES, newest_first
from pik_recon.logs import get_logger
from pik_recon.syncstore import Body, MergeResult, SyncStore

log = get_logger("sync")
BY_ID_LIMIT = 1000  # above this many, re-reading the active list costs fewer requests
T = TypeVar("T")


class Progress(Protocol):
    def add_pages(self, pages: int) -> None: ...
    def advance(self, pages: int = 1) -> None: ...


class NoProgress:
    def add_pages(self, pages: int) -> None:
        return None

    def advance(self, pages: int = 1) -> None:
        return None


@dataclass
class SyncResult:
    """What a sync did, for the summary and the sync_runs row."""

    run_id: int
    mode: str
    verified: bool = False
    verdict: str = ""
    strategy: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    new: int = 0
    changed: int = 0
    quarantined: int = 0
    requests: int = 0
    retries: int = 0
    by_id: int = 0
    vanished: int = 0


class SyncEngine:
    """One sync run: the client fetches, a single writer thread merges batches."""

    def __init__(self, client: PikClient, store: SyncStore, settings: SyncSettings,
                 concurrency: int, progress: Progress | None = None) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self.concurrency = concurrency
        self.progress = progress or NoProgress()
        self.result = SyncResult(run_id=store.run_id, mode="full")
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse")
        self._bodies: deque[tuple[Body, int]] = deque()  # with each body's number of records
        self._records = 0
        self._pending: asyncio.Future[MergeResult] | None = None
        self._handing = asyncio.Lock()
        self.drifted: set[str] = set()
        self._paged_since_refresh = False

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a warehouse call on the writer thread (DuckDB releases the GIL there)."""
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    def close(self) -> None:
        self._db.shutdown(wait=True)

    # --- ingest --------------------------------------------------------------------------
    def _take(self, result: MergeResult) -> MergeResult:
        self.result.new += result.new
        self.result.changed += result.changed
        self.result.quarantined += result.quarantined
        return result

    async def _flush(self) -> None:
        """Hand a batch (about `batch_rows` records, from the front of the buffer) to the
        writer once its previous batch is merged: one batch merges while at most three
        batches' worth of bodies are buffered, so memory stays flat however far behind the
        writer is."""
        async with self._handing:
            await self._collect()
            bodies, records = [], 0
            while self._bodies and records < self.settings.batch_rows:
                body, count = self._bodies.popleft()
                bodies.append(body)
                records += count
            self._records -= records
            if bodies:
                self._pending = asyncio.ensure_future(self.db(self.store.merge, bodies))

    async def _collect(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._take(await pending)

    async def drain(self) -> None:
        while self._bodies:
            await self._flush()
        async with self._handing:
            await self._collect()

    async def ingest(self, page: Page, listed_status: str | None) -> None:
        """Buffer a fetched body. A full buffer goes to the writer unless a hand-over is
        under way; fetching waits only when three batches' worth are buffered."""
        self._bodies.append(((listed_status, page.raw), page.count))
        self._records += page.count
        if self._records >= self.settings.batch_rows and not self._handing.locked():
            await self._flush()
        while self._records >= 3 * self.settings.batch_rows:
            await self._flush()

    async def ingest_now(self, page: Page, listed_status: str | None) -> MergeResult:
        await self.drain()
        return self._take(await self.db(self.store.merge, [(listed_status, page.raw)]))

    # --- fetching ------------------------------------------------------------------------
    async def page(self, status: str, offset: int) -> Page:
        page = await self.client.list_page(status, offset, PAGE_LIMIT)
        if offset > 0:
            self._paged_since_refresh = True
        self.progress.advance()
        return page

    async def first_pages(self, statuses: Iterable[str]) -> dict[str, Page]:
        statuses = list(statuses)
        self.progress.add_pages(len(statuses))
        pages = await _gather(self.page(s, 0) for s in statuses)
        return dict(zip(statuses, pages, strict=True))

    async def sweep(self, statuses: Iterable[str]) -> dict[str, int]:
        """Every page of every status, `concurrency` at a time; returns the first totals."""
        firsts = await self.first_pages(statuses)
        totals = {s: p.total for s, p in firsts.items()}
        known_end = dict(totals)
        queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        for status, first in firsts.items():
            await self.ingest(first, status)
            offsets = range(PAGE_LIMIT, first.total, PAGE_LIMIT)
            self.progress.add_pages(len(offsets))
            for offset in offsets:
                queue.put_nowait((status, offset))

        async def worker() -> None:
            while not queue.empty():
                status, offset = queue.get_nowait()
                page = await self.page(status, offset)
                if page.total != totals[status]:
                    self.drifted.add(status)
                if page.total > known_end[status]:
                    start = math.ceil(known_end[status] / PAGE_LIMIT) * PAGE_LIMIT
                    extra = range(start, page.total, PAGE_LIMIT)
                    self.progress.add_pages(len(extra))
                    for more in extra:
                        queue.put_nowait((status, more))
                    known_end[status] = page.total
                await self.ingest(page, status)

        await _gather(worker() for _ in range(self.concurrency))
        await self.drain()
        return totals

    async def sweep_in_order(self, status: str) -> None:
        """One status, page after page in order: an item already listed cannot be skipped
        by later insertions, only by removals before it, which the by-id refresh covers."""
        self.result.strategy.append(f"{status}: sequential re-sweep")
        offset, total = 0, 1
        while offset < total:
            page = await self.page(status, offset)
            total = page.total
            self.progress.add_pages(1)
            await self.ingest(page, status)
            offset += PAGE_LIMIT
        await self.drain()

    async def catch_up(self, status: str) -> int | None:
        """Page down from the top while pages past the first bring news; how many there were.

        None when a page is not newest first: then news can be anywhere and the catch-up
        proves nothing.
        """
        offset, news = 0, 0
        while True:
            page = await self.page(status, offset)
            self.progress.add_pages(1)
            if not newest_first(page.data):
                log.info("%s links are not listed newest first; sweeping the status", status)
                return None
            merged = await self.ingest_now(page, status)
            news += merged.new + merged.changed
            if (offset and merged.new + merged.changed == 0) or offset + PAGE_LIMIT >= page.total:
                return news
            offset += PAGE_LIMIT

    async def refresh(self, ids: list[str]) -> None:
        """Fetch single links by id (no paging, so nothing shifts)."""
        if not ids:
            return
        self.progress.add_pages(len(ids))
        queue: asyncio.Queue[str] = asyncio.Queue()
        for link_id in ids:
            queue.put_nowait(link_id)

        async def worker() -> None:
            while not queue.empty():
                link_id = queue.get_nowait()
                try:
                    record = await self.client.get_link(link_id)
                except NotFoundError:
                    self.result.vanished += 1
                    log.warning("link %s is no longer on PIK", link_id)
                    continue
                finally:
                    self.progress.advance()
                self.result.by_id += 1
                await self.ingest(single_page(record), None)

        await _gather(worker() for _ in range(self.concurrency))
        await self.drain()

    # --- verification --------------------------------------------------------------------
    async def settle(self, by_id_unlisted: bool = True) -> None:
        """Repair and verify until the warehouse's counts equal PIK's totals, or give up.

        Each round: the first pages give PIK's totals; active links that may have changed
        are re-read; a status that still disagrees is caught up from the top, or swept again
        in order when the top holds nothing new or its gap outlives a catch-up (pages
        answered out of order while the list shifted can skip links anywhere in it).
        """
        if by_id_unlisted:
            never_seen = await self.db(self.store.active_ids_seen_before, None)
            if never_seen:
                self.result.strategy.append(f"{len(never_seen)} active links not listed: "
                                            "by id")
            await self.refresh(never_seen)
        gap_rounds: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for round_no in range(self.settings.repair_rounds + 1):
            firsts = await self.first_pages(STATUSES)
            for status, page in firsts.items():
                await self.ingest(page, status)
            await self.drain()
            totals = {s: p.total for s, p in firsts.items()}
            mismatched = await self._mismatched(totals)
            if mismatched or self.drifted:
                await self._refresh_stale()
                mismatched = await self._mismatched(totals)
            self.result.totals = totals
            if not mismatched:
                self.result.verified = True
                self.result.verdict = "verified: " + _describe(totals)
                return
            if round_no == self.settings.repair_rounds:
                break
            # active last, and always: paging the others adds new active links at its top
            for status in [s for s in STATUSES if s in mismatched and s != "active"] + ["active"]:
                gap_rounds[status] += status in mismatched
                self.result.strategy.append(f"{status}: catch-up (round {round_no + 1})")
                news = await self.catch_up(status)
                # nothing new at the top, or a gap that outlived a catch-up: look everywhere
                if not news or gap_rounds[status] == 2:
                    await self.sweep_in_order(status)
        counts = self.result.counts
        gaps = ", ".join(f"{s} warehouse {counts[s]} vs PIK {self.result.totals[s]}"
                         for s in STATUSES if counts[s] != self.result.totals[s])
        self.result.verdict = (f"not verified after {self.settings.repair_rounds} repair "
                               f"rounds: {gaps}")

    async def _mismatched(self, totals: dict[str, int]) -> list[str]:
        counts = await self.db(self.store.counts)
        self.result.counts = counts
        return [s for s in STATUSES if counts[s] != totals[s]]

    async def _refresh_stale(self) -> None:
        """Active links observed before the last paging may have changed since: re-read them.

        By id when they are few (single fetches move nothing); otherwise the active list is
        read again in order and only the links it no longer shows are fetched by id.
        """
        if not self._paged_since_refresh:
            return
        moment = datetime.now(UTC)
        self._paged_since_refresh = False
        stale = await self.db(self.store.active_ids_seen_before, moment)
        if len(stale) > BY_ID_LIMIT:
            await self.sweep_in_order("active")
            stale = await self.db(self.store.active_ids_seen_before, moment)
        self.result.strategy.append(f"{len(stale)} active links re-read by id")
        await self.refresh(stale)


def _describe(totals: dict[str, int]) -> str:
    return ", ".join(f"{s} {totals[s]}" for s in STATUSES)


async def _gather(coros: Iterable[Awaitable[T]]) -> list[T]:
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


async def run_full_sync(engine: SyncEngine) -> SyncResult:
    engine.result.strategy.append("full sweep of every status")
    await engine.sweep(STATUSES)
    if engine.drifted:
        log.info("the list moved while paging (%s); repairing", ", ".join(sorted(engine.drifted)))
    await engine.settle()
    return engine.result

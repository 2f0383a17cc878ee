"""The batch writer: fetched bodies are buffered and merged into the warehouse on one thread.

One writer serves every account a sync runs side by side, so the warehouse sees one batch of
about `batch_rows` records at a time whatever the number of accounts: each merge joins its
batch with payment_links once, and the sync's memory is that of one account. Fetching never
waits for DuckDB unless three batches' worth of bodies are waiting: one batch merges on the
writer thread while the next fills, so memory stays flat however far behind the writer falls.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from pik_recon.client import Page
from pik_recon.sync.store import MergeResult, Part, SyncStore

T = TypeVar("T")
# Merges a batch in one transaction: per account in it, what it brought that was news.
Merge = Callable[[Sequence[Part]], dict[str, MergeResult]]


@dataclass
class Tally:
    """What one account's merged bodies brought so far."""

    new: int = 0
    changed: int = 0
    quarantined: int = 0

    def add(self, result: MergeResult) -> None:
        self.new += result.new
        self.changed += result.changed
        self.quarantined += result.quarantined


class BatchWriter:
    """Bodies in, batches of about `batch_rows` records out to `merge`, in order."""

    def __init__(self, merge: Merge, batch_rows: int) -> None:
        self.merge = merge
        self.batch_rows = batch_rows
        self.tallies: dict[str, Tally] = {}
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse")
        self._bodies: deque[tuple[Part, int]] = deque()  # with each body's number of records
        self._records = 0
        self._ingested = self._handed = 0  # bodies so far
        self._pending: asyncio.Future[dict[str, MergeResult]] | None = None
        self._handing = asyncio.Lock()

    def for_account(self, store: SyncStore) -> AccountWriter:
        """The writer as one account's sync run sees it."""
        self.tallies.setdefault(store.account, Tally())
        return AccountWriter(self, store)

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a warehouse call on the writer thread (DuckDB releases the GIL there), in
        the caller's context (its logs name its account)."""
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._db, call)

    def close(self) -> None:
        self._db.shutdown(wait=True)

    def _credit(self, results: dict[str, MergeResult]) -> dict[str, MergeResult]:
        for account, result in results.items():
            self.tallies[account].add(result)
        return results

    async def _merge(self, batch: list[Part]) -> dict[str, MergeResult]:
        return self._credit(await self.db(self.merge, batch))

    async def _flush(self) -> None:
        """Hand a batch (about `batch_rows` records, from the front of the buffer) to the
        writer once its previous batch is merged."""
        async with self._handing:
            await self._collect()
            batch, records = [], 0
            while self._bodies and records < self.batch_rows:
                part, count = self._bodies.popleft()
                batch.append(part)
                records += count
            self._records -= records
            self._handed += len(batch)
            if batch:
                self._pending = asyncio.ensure_future(self._merge(batch))

    async def _collect(self) -> None:
        """Wait for the batch on the writer thread. Shielded: a caller cancelled while it
        waits leaves the batch to the next one, and a failed merge fails every later call,
        for every account."""
        if self._pending is not None:
            await asyncio.shield(self._pending)
            self._pending = None

    async def drain(self) -> None:
        """Wait until every body ingested so far is merged."""
        target = self._ingested
        while self._handed < target:
            await self._flush()
        async with self._handing:
            await self._collect()

    async def ingest(self, part: Part, count: int) -> None:
        """Buffer a fetched body of `count` records. A full buffer goes to the writer
        unless a hand-over is under way; fetching waits only when three batches' worth are
        buffered."""
        self._bodies.append((part, count))
        self._records += count
        self._ingested += 1
        if self._records >= self.batch_rows and not self._handing.locked():
            await self._flush()
        while self._records >= 3 * self.batch_rows:
            await self._flush()

    async def ingest_now(self, part: Part) -> MergeResult:
        """Merge a body at once (after what is buffered): what it brought that was news."""
        await self.drain()
        async with self._handing:
            return (await self._merge([part]))[part[0].account]


class AccountWriter:
    """One account's way into the shared writer: its bodies, its warehouse calls, its tally."""

    def __init__(self, writer: BatchWriter, store: SyncStore) -> None:
        self.writer = writer
        self.store = store

    @property
    def tally(self) -> Tally:
        return self.writer.tallies[self.store.account]

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.writer.db(fn, *args)

    async def ingest(self, page: Page, listed_status: str | None) -> None:
        await self.writer.ingest((self.store, (listed_status, page.raw)), page.count)

    async def ingest_now(self, page: Page, listed_status: str | None) -> MergeResult:
        return await self.writer.ingest_now((self.store, (listed_status, page.raw)))

    async def drain(self) -> None:
        await self.writer.drain()

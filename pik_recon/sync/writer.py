"""The batch writer: fetched bodies are buffered and merged into the warehouse on one thread.

Fetching never waits for DuckDB unless three batches' worth of bodies are waiting: one batch
merges on the writer thread while the next fills, so a sync's memory stays flat however far
behind the writer falls.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pik_recon.client import Page
from pik_recon.sync.store import Body, MergeResult, SyncStore

T = TypeVar("T")


class BatchWriter:
    """Bodies in, batches of about `batch_rows` records out to `store.merge`, in order."""

    def __init__(self, store: SyncStore, batch_rows: int) -> None:
        self.store = store
        self.batch_rows = batch_rows
        self.new = self.changed = self.quarantined = 0
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse")
        self._bodies: deque[tuple[Body, int]] = deque()  # with each body's number of records
        self._records = 0
        self._pending: asyncio.Future[MergeResult] | None = None
        self._handing = asyncio.Lock()

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a warehouse call on the writer thread (DuckDB releases the GIL there), in
        the caller's context (its logs name its account)."""
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._db, call)

    def close(self) -> None:
        self._db.shutdown(wait=True)

    @property
    def buffered(self) -> int:
        """Records waiting for the writer."""
        return self._records

    def _take(self, result: MergeResult) -> MergeResult:
        self.new += result.new
        self.changed += result.changed
        self.quarantined += result.quarantined
        return result

    async def _flush(self) -> None:
        """Hand a batch (about `batch_rows` records, from the front of the buffer) to the
        writer once its previous batch is merged."""
        async with self._handing:
            await self._collect()
            bodies, records = [], 0
            while self._bodies and records < self.batch_rows:
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
        """Wait until everything ingested so far is merged."""
        while self._bodies:
            await self._flush()
        async with self._handing:
            await self._collect()

    async def ingest(self, page: Page, listed_status: str | None) -> None:
        """Buffer a fetched body. A full buffer goes to the writer unless a hand-over is
        under way; fetching waits only when three batches' worth are buffered."""
        self._bodies.append(((listed_status, page.raw), page.count))
        self._records += page.count
        if self._records >= self.batch_rows and not self._handing.locked():
            await self._flush()
        while self._records >= 3 * self.batch_rows:
            await self._flush()

    async def ingest_now(self, page: Page, listed_status: str | None) -> MergeResult:
        """Merge a body at once (after what is buffered): what it brought that was news."""
        await self.drain()
        return self._take(await self.db(self.store.merge, [(listed_status, page.raw)]))

"""The batch writer's buffer, with a slow stand-in for the warehouse."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from pik_recon.client import Page
from pik_recon.sync.store import Body, MergeResult
from pik_recon.sync.writer import BatchWriter

BATCH_ROWS = 250


class SlowStore:
    """Takes 20 ms per batch on the writer thread and notes what it was handed."""

    run_id = 1

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []

    def merge(self, bodies: Sequence[Body]) -> MergeResult:
        time.sleep(0.02)
        self.batches.append([raw for _, raw in bodies])
        return MergeResult(new=len(bodies), changed=0, quarantined=0)


def test_a_writer_behind_gets_batches_of_batch_rows_in_order_and_every_body_once() -> None:
    store = SlowStore()
    writer = BatchWriter(store, BATCH_ROWS)  # type: ignore[arg-type]
    counts = [100, 30, 100, 1, 100, 100, 70, 100, 100, 100, 5, 100] * 5
    bodies = [b"page-%d" % n for n in range(len(counts))]
    ingested: list[bytes] = []
    buffered: list[int] = []

    async def fetch() -> None:
        queue = list(zip(bodies, counts, strict=True))[::-1]

        async def worker() -> None:  # pages arrive while a hand-over waits for the writer
            while queue:
                raw, count = queue.pop()
                await asyncio.sleep(0.001)
                ingested.append(raw)
                await writer.ingest(Page(total=10_000, count=count, raw=raw), "active")
                buffered.append(sum(c for _, c in writer._bodies))

        await asyncio.gather(*(worker() for _ in range(4)))
        await writer.drain()

    asyncio.run(fetch())
    writer.close()

    assert sorted(ingested) == sorted(bodies)
    assert [raw for batch in store.batches for raw in batch] == ingested
    records = {raw: count for raw, count in zip(bodies, counts, strict=True)}
    sizes = [sum(records[raw] for raw in batch) for batch in store.batches]
    # each batch but the last reaches batch_rows, and stops at the page that reaches it
    assert all(BATCH_ROWS <= size < BATCH_ROWS + 100 for size in sizes[:-1])
    assert 0 < sizes[-1] < BATCH_ROWS + 100
    # the fetchers wait rather than buffer more than three batches (and a page)
    assert max(buffered) < 3 * BATCH_ROWS + 100
    assert writer.new == len(bodies)

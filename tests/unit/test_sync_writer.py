"""The batch writer's buffer, with a slow stand-in for the warehouse's merge."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from pik_recon.client import Page
from pik_recon.sync.store import MergeResult, Part
from pik_recon.sync.writer import AccountWriter, BatchWriter

BATCH_ROWS = 250


@dataclass(frozen=True)
class Run:
    """What the writer reads of a SyncStore."""

    account: str
    run_id: int


class SlowMerge:
    """Takes 20 ms per batch on the writer thread and notes what it was handed; each body
    counts as one new link of its account."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.batches: list[list[tuple[str, bytes]]] = []
        self.fail_at = fail_at

    def __call__(self, batch: Sequence[Part]) -> dict[str, MergeResult]:
        time.sleep(0.02)
        if len(self.batches) == self.fail_at:
            raise OSError("disk full")
        self.batches.append([(store.account, raw) for store, (_, raw) in batch])
        news: dict[str, int] = {}
        for store, _ in batch:
            news[store.account] = news.get(store.account, 0) + 1
        return {account: MergeResult(new=n, changed=0, quarantined=0)
                for account, n in news.items()}


def _accounts(writer: BatchWriter, *names: str) -> list[AccountWriter]:
    return [writer.for_account(Run(name, n)) for n, name in enumerate(names, 1)]  # type: ignore[arg-type]


def _page(raw: bytes, count: int) -> Page:
    return Page(total=10_000, count=count, raw=raw)


def test_a_writer_behind_gets_batches_of_batch_rows_in_order_and_every_body_once() -> None:
    merge = SlowMerge()
    writer = BatchWriter(merge, BATCH_ROWS)
    runs = _accounts(writer, "a", "b", "c")
    counts = [100, 30, 100, 1, 100, 100, 70, 100, 100, 100, 5, 100] * 5
    bodies = [b"page-%d" % n for n in range(len(counts))]
    ingested: list[tuple[str, bytes]] = []
    buffered: list[int] = []

    async def fetch() -> None:
        queue = list(zip(bodies, counts, strict=True))[::-1]

        async def worker(n: int) -> None:  # pages arrive while a hand-over waits for the writer
            account = runs[n % len(runs)]
            while queue:
                raw, count = queue.pop()
                await asyncio.sleep(0.001)
                ingested.append((account.store.account, raw))
                await account.ingest(_page(raw, count), "active")
                buffered.append(writer._records)  # what waits for the writer

        await asyncio.gather(*(worker(n) for n in range(6)))
        await runs[0].drain()

    asyncio.run(fetch())
    writer.close()

    assert sorted(raw for _, raw in ingested) == sorted(bodies)
    assert [part for batch in merge.batches for part in batch] == ingested
    records = dict(zip(bodies, counts, strict=True))
    sizes = [sum(records[raw] for _, raw in batch) for batch in merge.batches]
    # each batch but the last reaches batch_rows, and stops at the page that reaches it
    assert all(BATCH_ROWS <= size < BATCH_ROWS + 100 for size in sizes[:-1])
    assert 0 < sizes[-1] < BATCH_ROWS + 100
    # the fetchers wait rather than buffer more than three batches (and a page)
    assert max(buffered) < 3 * BATCH_ROWS + 100
    # several accounts share batches: fewer merges than one writer per account would make
    assert any(len({account for account, _ in batch}) > 1 for batch in merge.batches)
    for run in runs:
        assert run.tally.new == sum(1 for account, _ in ingested if account == run.store.account)


def test_a_drain_waits_for_what_was_ingested_before_it_not_for_what_others_add() -> None:
    merge = SlowMerge()
    writer = BatchWriter(merge, BATCH_ROWS)
    mine, busy = _accounts(writer, "a", "b")
    merged_at_drain: list[int] = []

    async def scenario() -> None:
        stop = asyncio.Event()

        async def keep_adding() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                await busy.ingest(_page(b"busy-%d" % n, 100), "active")
                await asyncio.sleep(0.001)

        adder = asyncio.create_task(keep_adding())
        await asyncio.sleep(0.05)
        await mine.ingest(_page(b"mine", 1), "active")
        await asyncio.wait_for(mine.drain(), timeout=5)
        merged_at_drain.append(sum(1 for batch in merge.batches for account, _ in batch
                                   if account == "a"))
        stop.set()
        await adder
        await busy.drain()

    asyncio.run(scenario())
    writer.close()
    assert merged_at_drain == [1]
    assert mine.tally.new == 1


def test_a_failed_merge_fails_every_account_after_it() -> None:
    writer = BatchWriter(SlowMerge(fail_at=0), BATCH_ROWS)
    first, second = _accounts(writer, "a", "b")

    async def scenario() -> list[BaseException | None]:
        await first.ingest(_page(b"one", BATCH_ROWS), "active")
        await second.ingest(_page(b"two", 1), "active")
        outcomes: list[BaseException | None] = []
        for account in (second, first, second):
            try:
                await account.drain()
                outcomes.append(None)
            except OSError as exc:
                outcomes.append(exc)
        return outcomes

    outcomes = asyncio.run(scenario())
    writer.close()
    assert [str(e) for e in outcomes] == ["disk full"] * 3


def test_a_caller_cancelled_while_waiting_loses_no_merge() -> None:
    merge = SlowMerge()
    writer = BatchWriter(merge, BATCH_ROWS)
    first, second = _accounts(writer, "a", "b")

    async def scenario() -> None:
        await first.ingest(_page(b"one", BATCH_ROWS), "active")  # handed to the writer
        await second.ingest(_page(b"two", BATCH_ROWS), "active")
        waiting = asyncio.create_task(second.drain())
        await asyncio.sleep(0.005)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await first.drain()

    asyncio.run(scenario())
    writer.close()
    assert [raw for batch in merge.batches for _, raw in batch] == [b"one", b"two"]
    assert (first.tally.new, second.tally.new) == (1, 1)

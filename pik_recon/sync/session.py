"""One sync run of one list: what the strategies (full.py, incremental.py) may do, by name.

A session holds the run's pager (its requests), its unfiltered list, its side of the
warehouse and the result being built; the strategies ask it for what they need, and its
result says what happened.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from pik_recon.client import PAGE_LIMIT, Page, PikClient
from pik_recon.config import SyncSettings
from pik_recon.logs import get_logger
from pik_recon.sync.counts import RequestCounts
from pik_recon.sync.pages import Pager, Progress, gather
from pik_recon.sync.proof import Proof, moved_note
from pik_recon.sync.resource import Resource
from pik_recon.sync.store import Cut, MergeResult, RunRecord
from pik_recon.sync.unfiltered import UnfilteredList
from pik_recon.sync.writer import RunWriter

log = get_logger("sync")
T = TypeVar("T")


@dataclass
class SyncResult:
    """One sync run of one list (links or transactions): what it did and how it ended,
    for the summary, the job's step and its sync_runs row."""

    resource: str  # "links" or "transactions"
    run_id: int
    mode: str  # "full" or "incremental"
    verified: bool = False
    verdict: str = ""  # "verified: ..." or "not verified: <why>; <the gap>"
    strategy: list[str] = field(default_factory=list)  # what ran, in order
    total: int | None = None  # PIK's count of every record, at the proof
    accounted: int | None = None  # records the proof accounted for then
    totals: dict[str, int] = field(default_factory=dict)  # PIK per status (information)
    counts: dict[str, int] = field(default_factory=dict)  # the warehouse per status then
    # this run's quarantined records per status whose list showed them (not held)
    quarantined_listed: dict[str, int] = field(default_factory=dict)
    moved: int | None = None  # records PIK lists under another status than held
    moved_note: str = ""  # the per-status comparison, in a sentence
    requests: RequestCounts = field(default_factory=RequestCounts)
    new: int = 0  # records first seen
    changed: int = 0  # records seen in another status than held
    quarantined: int = 0  # malformed records kept whole in quarantine
    by_id: int = 0  # records fetched by id and found
    vanished: int = 0  # records PIK answered 404 for, marked so


def request_budget(setting: str, minimum: int) -> int:
    """The budget from `[sync] request_budget`: "3x" is three times the minimum, 20000 is
    20,000 requests."""
    if setting.endswith("x"):
        return math.ceil(Decimal(setting[:-1]) * minimum)
    return int(setting)


class SyncSession:
    """One sync run of one list, within its request budget."""

    def __init__(self, client: PikClient, writer: RunWriter, resource: Resource,
                 settings: SyncSettings, concurrency: int, progress: Progress,
                 mode: str) -> None:
        self.resource = resource
        self._settings = settings
        self._writer = writer
        self._store = writer.store
        self._pager = Pager(client, writer, resource, concurrency, progress,
                           settings.max_vanished)
        self.every = UnfilteredList(self._pager)
        self.result = SyncResult(resource.name, self._store.run_id, mode,
                                 requests=self._pager.counts)
        self.checking = 0  # held records being checked by id after a proof that holds

    def note(self, text: str) -> None:
        """Say what the sync does next, in the log and its strategy."""
        log.info("%s: %s", self.resource.name, text)
        self.result.strategy.append(text)

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._writer.db(fn, *args)

    # --- reading -------------------------------------------------------------------------
    async def begin(self) -> Page:
        """The first page of the unfiltered list: PIK's total sets the budget, its order
        how the list is swept."""
        page = await self.every.first_page()
        statuses = len(self.resource.statuses)
        minimum = math.ceil(page.total / PAGE_LIMIT) + statuses
        budget = request_budget(self._settings.request_budget, minimum)
        self._pager.start_budget(budget)
        self._pager.expect(minimum)
        log.info("PIK counts %d %s, listed %s; request budget %d (%s of the minimum %d)",
                 page.total, self.resource.name, self.every.order, budget,
                 self._settings.request_budget, minimum)
        return page

    def expect(self, requests: int) -> None:
        """The requests this run now expects to send in all (for the progress bar)."""
        self._pager.expect(requests)

    async def status_pages(self) -> dict[str, Page]:
        """The first page of every status: PIK's totals per status (and their news)."""
        statuses = self.resource.statuses
        pages = await gather(self._pager.page(s, 0) for s in statuses)
        return dict(zip(statuses, pages, strict=True))

    async def sweep_status(self, status: str, first: Page) -> None:
        """Every page of one status, `concurrency` at a time; pages are added while PIK's
        total grows. A list that changes while it is read can skip records; the proof finds
        out, and records held open that no page showed are fetched by id."""
        known_end = first.total
        offsets = list(range(PAGE_LIMIT, first.total, PAGE_LIMIT))
        self._pager.expect(self._pager.counts.spent + len(offsets))

        async def read(offset: int) -> None:
            nonlocal known_end
            page = await self._pager.page(status, offset)
            if page.total > known_end:
                start = math.ceil(known_end / PAGE_LIMIT) * PAGE_LIMIT
                extra = list(range(start, page.total, PAGE_LIMIT))
                known_end = page.total
                for more in extra:
                    await read(more)

        await self._pager.each(offsets, read)
        await self._writer.drain()

    async def status_page_now(self, status: str, offset: int) -> tuple[Page, MergeResult]:
        """One page of a status, merged at once: with what it brought that was news."""
        return await self._pager.page_now(status, offset)

    async def read_newest(self, depth: int) -> None:
        """The newest `depth` records of the unfiltered list again, in order."""
        self.note(f"newest {depth:,} {self.resource.name} read again in order")
        await self.every.read_newest(depth)
        await self._writer.drain()

    async def fetch_by_id(self, ids: list[str]) -> int:
        """Fetch records by id; how many PIK returned (the rest are `vanished`)."""
        return await self._pager.by_ids(ids)

    @property
    def vanished(self) -> list[str]:
        """Ids PIK answered 404 for in this run (marked once it is verified)."""
        return self._pager.vanished

    async def drain(self) -> None:
        """Wait until everything fetched so far is in the warehouse."""
        await self._writer.drain()

    # --- what the warehouse holds --------------------------------------------------------
    async def held_counts(self) -> dict[str, int]:
        """Records per status this run has in hand: held, or quarantined from its list."""
        held, quarantined = await self._db(self._store.counts)
        return {s: n + quarantined.get(s, 0) for s, n in held.items()}

    async def take_held_counts(self) -> None:
        """The warehouse's counts per status, into the result, when no status total was
        read to set them beside (a budget spent before the first pages)."""
        if not self.result.counts:
            self.result.counts, self.result.quarantined_listed = await self._db(
                self._store.counts)

    async def _take_counts(self) -> None:
        """The warehouse's counts per status against PIK's totals, into the result."""
        result = self.result
        result.counts, result.quarantined_listed = await self._db(self._store.counts)
        result.moved, result.moved_note = moved_note(
            result.totals, result.counts, result.quarantined_listed, self.resource)
        stale = await self.held_malformed()
        if stale:
            shown = ", ".join(f"{i} ({status})" for i, status in stale[:5])
            more = f" and {len(stale) - 5:,} more" if len(stale) > 5 else ""
            result.moved_note += (
                f"; {self.resource.many(len(stale))} held came malformed this time: "
                f"{shown}{more}. The warehouse keeps the last readable status, which may be "
                "out of date, and the reconciliation judges by it")

    async def held_malformed(self) -> list[tuple[str, str]]:
        """Records held that this run saw only malformed: ids and the status kept."""
        return await self._db(self._store.quarantined_held)

    async def known(self) -> int:
        """Records held that PIK has not been seen to lose."""
        return await self._db(self._store.known)

    async def accounted(self, include_final: bool) -> int:
        """Records this run accounts for (after what was fetched is merged)."""
        await self._writer.drain()
        return await self._db(self._store.accounted, include_final)

    async def stale(self, but_newest: int) -> list[str]:
        """Records held open that this run has not observed (they may have changed), but
        the `but_newest` newest, and ids quarantined before; none PIK does not know."""
        await self._writer.drain()
        ids = (await self._db(self._store.unobserved_open, but_newest)
               + await self._db(self._store.unobserved_quarantined))
        gone = set(self.vanished)
        return [i for i in ids if i not in gone]

    async def unaccounted(self, include_final: bool) -> list[str]:
        """Records held that the proof leaves out (vanished.py); none PIK does not know."""
        gone = set(self.vanished)
        return [i for i in await self._db(self._store.unaccounted, include_final)
                if i not in gone]

    async def history(self, cuts: int, changes: int, enough: int
                      ) -> tuple[list[Cut], list[float]]:
        """For the incremental plan: `cuts` creation-time cuts through the records held open
        (store.recency), and the ages of the latest `changes` changes to a final status that
        syncs observed; fewer than `enough` of them, those the records' own stamps say."""
        ages = await self._db(self._store.change_ages, changes)
        if len(ages) < enough:
            ages = await self._db(self._store.final_ages, changes) or ages
        return await self._db(self._store.recency, cuts), ages

    # --- the result ----------------------------------------------------------------------
    async def take_status_totals(self, pages: dict[str, Page]) -> None:
        """PIK's totals per status against the warehouse's counts, as information."""
        await self._writer.drain()
        result = self.result
        result.totals = {s: pages[s].total for s in self.resource.statuses}
        await self._take_counts()
        self.note(result.moved_note)

    def take_proof(self, proof: Proof) -> None:
        self.result.total, self.result.accounted = proof.total, proof.accounted

    def conclude(self, verdict: str, *, verified: bool = False) -> None:
        self.result.verdict, self.result.verified = verdict, verified

    async def mark_vanished(self) -> None:
        """Mark what PIK answered 404 for, once the run is verified."""
        gone, result = self.vanished, self.result
        if not gone:
            return
        await self._db(self._store.mark_vanished, gone)
        result.vanished = len(gone)
        self.note(f"{self.resource.many(len(gone))} PIK does not know (404 by id) marked "
                  "vanished")
        if result.totals:
            await self._take_counts()

    def count_up(self) -> None:
        """What the writer merged for this run, into its result."""
        result, tally = self.result, self._writer.tally
        result.new, result.changed, result.quarantined = tally.new, tally.changed, (
            tally.quarantined)
        result.by_id = self._pager.by_id

    async def finish(self, record: RunRecord) -> None:
        """Write the run's sync_runs row."""
        await self._db(self._store.finish_run, record)

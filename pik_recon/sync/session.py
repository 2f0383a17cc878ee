"""One sync run's state: the writer, the pager, the coverage, and the result being built."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from pik_recon.client import PAGE_LIMIT, Page, PikClient
from pik_recon.config import SyncSettings
from pik_recon.links import STATUSES
from pik_recon.logs import get_logger
from pik_recon.sync.coverage import Coverage, detect_frame
from pik_recon.sync.pages import Pager, Progress, gather
from pik_recon.sync.store import SyncStore
from pik_recon.sync.writer import AccountWriter

log = get_logger("sync")
T = TypeVar("T")


@dataclass
class SyncResult:
    """What a sync did, for the summary and the sync_runs row."""

    run_id: int
    mode: str
    verified: bool = False
    verdict: str = ""
    strategy: list[str] = field(default_factory=list)
    total: int | None = None  # PIK's count of every link, at the proof
    accounted: int | None = None  # links the proof accounted for then
    totals: dict[str, int] = field(default_factory=dict)  # PIK per status (information)
    counts: dict[str, int] = field(default_factory=dict)  # the warehouse per status then
    moved: int | None = None
    moved_note: str = ""  # the per-status comparison, in a sentence
    budget: int | None = None
    spent: int = 0
    new: int = 0
    changed: int = 0
    quarantined: int = 0
    requests: int = 0
    retries: int = 0
    by_id: int = 0
    vanished: int = 0


def request_budget(setting: str, minimum: int) -> int:
    """The budget from `[sync] request_budget`: "3x" is three times the minimum, 20000 is
    20,000 requests."""
    if setting.endswith("x"):
        return math.ceil(Decimal(setting[:-1]) * minimum)
    return int(setting)


class SyncSession:
    """One sync run. Strategies (full.py, incremental.py) read through it; it keeps count."""

    def __init__(self, client: PikClient, writer: AccountWriter, settings: SyncSettings,
                 concurrency: int, progress: Progress, mode: str) -> None:
        self.client = client
        self.store: SyncStore = writer.store
        self.settings = settings
        self.progress = progress
        self.writer = writer
        self.pager = Pager(client, self.writer, concurrency, progress, settings.max_vanished)
        self.result = SyncResult(run_id=self.store.run_id, mode=mode)
        self.coverage = Coverage(detect_frame([]), PAGE_LIMIT)
        self.first_total = 0
        self.top = 0  # the largest total of the unfiltered list seen (it only grows)
        self.checking = 0  # held links being checked by id after a proof that holds

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.writer.db(fn, *args)

    def note(self, text: str) -> None:
        log.info("%s", text)
        self.result.strategy.append(text)

    # --- the unfiltered list ---------------------------------------------------------------
    async def first_page(self) -> Page:
        """The first page of every link: PIK's total sets the budget, its order the frame."""
        self.progress.add_pages(1)
        page = await self.pager.page(None, 0)
        self.first_total = self.top = page.total
        minimum = math.ceil(page.total / PAGE_LIMIT) + len(STATUSES)
        budget = request_budget(self.settings.request_budget, minimum)
        self.pager.budget.limit = self.result.budget = budget
        self.progress.set_budget(budget)
        self.coverage = Coverage(detect_frame(page.data), PAGE_LIMIT)
        self.coverage.add(0, page.count, page.total)
        log.info("PIK counts %d links, listed %s; request budget %d (%s of the minimum %d)",
                 page.total, self.coverage.frame, budget, self.settings.request_budget,
                 minimum)
        return page

    async def every_link_page(self, offset: int | Callable[[], int]) -> tuple[int, Page]:
        """A page of the unfiltered list, added to the coverage; with the offset it was
        answered for (a function is asked again before each attempt)."""
        asked: list[int] = []

        def aim() -> int:
            asked.append(offset() if callable(offset) else offset)
            return asked[-1]

        page = await self.pager.page(None, aim)
        self.top = max(self.top, page.total)
        self.coverage.add(asked[-1], page.count, page.total)
        return asked[-1], page

    def growth_per_request(self) -> float:
        """New links per request so far: how fast the list grows under the sync."""
        return (self.top - self.first_total) / max(1, self.pager.budget.spent)

    # --- per-status lists --------------------------------------------------------------------
    async def status_pages(self) -> dict[str, Page]:
        """The first page of every status: PIK's totals per status (and their news)."""
        self.progress.add_pages(len(STATUSES))
        pages = await gather(self.pager.page(s, 0) for s in STATUSES)
        return dict(zip(STATUSES, pages, strict=True))

    async def sweep_status(self, status: str, first: Page) -> None:
        """Every page of one status, `concurrency` at a time; pages are added while PIK's
        total grows. A list that changes while it is read can skip links; the proof finds
        out, and links held as active that no page showed are fetched by id."""
        known_end = first.total
        offsets = list(range(PAGE_LIMIT, first.total, PAGE_LIMIT))
        self.progress.add_pages(len(offsets))

        async def read(offset: int) -> None:
            nonlocal known_end
            page = await self.pager.page(status, offset)
            if page.total > known_end:
                start = math.ceil(known_end / PAGE_LIMIT) * PAGE_LIMIT
                extra = list(range(start, page.total, PAGE_LIMIT))
                known_end = page.total
                self.progress.add_pages(len(extra))
                for more in extra:
                    await read(more)

        await self.pager.each(offsets, read)
        await self.writer.drain()

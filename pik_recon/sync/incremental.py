"""The incremental sync: observe what may have changed, account for the rest, same proof.

Links held in a final status never change, so they are accounted for without a request.
What may have changed: every link held as active, and links the warehouse does not hold
yet. The first pages give PIK's totals; plan.py estimates what reading each status costs
against a full sweep, and the cheaper is taken. Then:

1. the active list is read whole (or its links fetched by id, when they are fewer);
2. each final status is read from its newest end while a page still brings at least
   MIN_NEWS links the warehouse did not hold as such (or read whole, if that is cheaper);
3. the settle loop of full.py: links held as active and still unobserved are fetched by id,
   the proof runs, and where it fails the newest part of the unfiltered list is read, then,
   if that is not enough, all of it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pik_recon.client import PAGE_LIMIT, Page
from pik_recon.sync.coverage import NEWEST, OLDEST, detect_frame
from pik_recon.sync.full import settle
from pik_recon.sync.pages import gather
from pik_recon.sync.plan import FINAL, Plan, Shape, plan_incremental
from pik_recon.sync.session import SyncSession

MIN_NEWS = 2  # below this many per page, fetching by id costs less than reading on
CUTS = 20  # creation-time cuts through the links held as active, for the estimates
HISTORY = 5_000  # earlier changes whose ages predict where this sync's changes sit
MIN_HISTORY = 50


async def incremental_sync(session: SyncSession) -> None:
    known = await session.db(session.store.known)  # before this sync adds any
    await session.first_page()
    firsts = await session.status_pages()
    await session.writer.drain()
    plan = plan_incremental(await _shape(session, firsts, known))
    session.note(plan.describe())
    if plan.full:
        session.note(f"full sweep of every link ({session.coverage.frame})")
        await settle(session, floor=0, include_final=False, status_pages=firsts)
        return
    if plan.active == "list":
        await session.sweep_status("active", firsts["active"])
    await gather(_read_final(session, status, firsts[status], plan)
                 for status in FINAL if plan.final[status] != "by id")
    await settle(session, floor=min(known, session.first_total), include_final=True,
                 proof_first=True, status_pages=firsts)


async def _read_final(session: SyncSession, status: str, first: Page, plan: Plan) -> None:
    if plan.final[status] == "list":
        session.note(f"{status}: read whole")
        await session.sweep_status(status, first)
        return
    await _read_from_newest(session, status, first)


async def _read_from_newest(session: SyncSession, status: str, first: Page) -> None:
    """Read a final status from its newest end while pages bring news, until the warehouse
    holds as many of it as PIK counts."""
    oldest_first = detect_frame(first.data) == OLDEST
    total, read = first.total, 1
    while (await session.db(session.store.counts))[status] < total and read * PAGE_LIMIT < total:
        offset = max(0, total - (read + 1) * PAGE_LIMIT) if oldest_first else read * PAGE_LIMIT
        session.progress.add_pages(1)
        page, merged = await session.pager.page_now(status, offset)
        total, read = page.total, read + 1
        if merged.new + merged.changed < MIN_NEWS:
            break
    session.note(f"{status}: {read} pages from the newest end")


async def _shape(session: SyncSession, firsts: dict[str, Page], known: int) -> Shape:
    store = session.store
    cuts = await session.db(store.recency, CUTS)
    ages = sorted(await session.db(store.change_ages, HISTORY))
    now = datetime.now(UTC)
    if len(ages) >= MIN_HISTORY:  # the share of earlier changes at or below each cut's age
        shares = [sum(a <= (now - at).total_seconds() for a in ages) / len(ages)
                  for at, _, _ in cuts]
    else:
        shares = [share for _, share, _ in cuts]
    frames = {s: detect_frame(firsts[s].data) for s in FINAL}
    return Shape(
        total=session.first_total,
        totals={s: p.total for s, p in firsts.items()},
        known=known,
        held=await session.db(store.counts),
        shares=shares,
        after={s: [after.get(s, 0) for _, _, after in cuts] for s in FINAL},
        newest_first={s: {NEWEST: True, OLDEST: False}.get(frames[s]) for s in FINAL},
    )

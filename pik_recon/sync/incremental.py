"""The incremental sync: observe what may have changed, account for the rest, same proof.

Records held in a final status never change, so they are accounted for without a request.
What may have changed: every record held in a status that may (a link held as active, a
transaction held as pending or confirmed), and records the warehouse does not hold yet. The
first pages give PIK's totals; plan.py estimates what reading each status costs against a
full sweep, and the cheaper is taken. Then:

1. each open status is read whole (or its records fetched by id, when they are fewer);
2. each final status is read from its newest end while a page still brings at least
   MIN_NEWS records the warehouse did not hold as such (or read whole, if that is cheaper);
3. the settle loop of full.py: records held open and still unobserved are fetched by id,
   the proof runs, and where it fails the newest part of the unfiltered list (the records
   the warehouse did not hold) is read, then, if that is not enough, all of it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pik_recon.client import PAGE_LIMIT, Page
from pik_recon.listorder import from_newest, order_of
from pik_recon.sync.full import Scope, settle
from pik_recon.sync.pages import gather
from pik_recon.sync.plan import Plan, Shape, plan_incremental
from pik_recon.sync.session import SyncSession

MIN_NEWS = 2  # below this many per page, fetching by id costs less than reading on
CUTS = 20  # creation-time cuts through the records held open, for the estimates
HISTORY = 5_000  # earlier changes whose ages predict where this sync's changes sit
MIN_HISTORY = 50


async def incremental_sync(session: SyncSession) -> None:
    known = await session.known()  # before this sync adds any
    await session.begin()
    firsts = await session.status_pages()
    await session.drain()
    plan = plan_incremental(await _shape(session, firsts, known))
    session.note(plan.describe())
    if plan.full:
        session.expect(plan.full_cost + len(firsts))
        session.note(f"full sweep of every {session.resource.noun} ({session.every.order})")
        await settle(session, Scope(), status_pages=firsts)
        return
    session.expect(plan.incremental_cost + len(firsts))
    for status, how in plan.open.items():
        if how == "list":
            await session.sweep_status(status, firsts[status])
    await gather(_read_final(session, status, firsts[status], plan)
                 for status, how in plan.final.items() if how != "by id")
    await settle(session, Scope(floor=min(known, session.every.first_total),
                                include_final=True), read_first=False, status_pages=firsts)


async def _read_final(session: SyncSession, status: str, first: Page, plan: Plan) -> None:
    if plan.final[status] == "list":
        session.note(f"{status}: read whole")
        await session.sweep_status(status, first)
        return
    await _read_from_newest(session, status, first)


async def _read_from_newest(session: SyncSession, status: str, first: Page) -> None:
    """Read a final status from its newest end while pages bring news, until the warehouse
    holds as many of it as PIK counts."""
    order = order_of(first.data)
    total, read = first.total, 1
    while (await session.held_counts())[status] < total and read * PAGE_LIMIT < total:
        page, merged = await session.status_page_now(
            status, from_newest(order, read, total, PAGE_LIMIT))
        total, read = page.total, read + 1
        if merged.new + merged.changed < MIN_NEWS:
            break
    session.note(f"{status}: {read} pages from the newest end")


async def _shape(session: SyncSession, firsts: dict[str, Page], known: int) -> Shape:
    cuts, ages = await session.history(CUTS, HISTORY, MIN_HISTORY)
    ages.sort()
    now = datetime.now(UTC)
    if len(ages) >= MIN_HISTORY:  # the share of earlier changes at or below each cut's age
        shares = [sum(a <= (now - at).total_seconds() for a in ages) / len(ages)
                  for at, _, _ in cuts]
    else:
        shares = [share for _, share, _ in cuts]
    final = session.resource.final
    return Shape(
        total=session.every.first_total,
        totals={s: p.total for s, p in firsts.items()},
        known=known,
        held=await session.held_counts(),
        open=session.resource.open,
        shares=shares,
        after={s: [after.get(s, 0) for _, _, after in cuts] for s in final},
        orders={s: order_of(firsts[s].data) for s in final},
    )


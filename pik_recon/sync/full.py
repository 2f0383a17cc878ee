"""The full sync: read the unfiltered list until every index is covered, then prove it.

Pages are aimed in the coverage's frame (coverage.py): a page asked for while the list grows
still lands where it was meant to, and what a late or out-of-order answer left uncovered is
read again. The settle loop then runs the proof (proof.py) and, where it fails, reads what
is missing in the cheapest way it knows, within the request budget.
"""

from __future__ import annotations

import math

from pik_recon.client import PAGE_LIMIT, Page
from pik_recon.links import STATUSES
from pik_recon.sync.coverage import NEWEST, OLDEST, UNKNOWN, Coverage
from pik_recon.sync.proof import Proof, gap_verdict, moved_note
from pik_recon.sync.session import SyncSession
from pik_recon.sync.sweep import cover, reserve
from pik_recon.sync.vanished import confirm


async def full_sync(session: SyncSession) -> None:
    await session.first_page()
    session.note(f"full sweep of every link ({session.coverage.frame})")
    await settle(session, floor=0, include_final=False)


async def read_newest(session: SyncSession, depth: int) -> None:
    """Read the newest `depth` links page after page, from the end where links are added:
    in that order a list that only grows cannot skip a link (an addition only pushes links
    towards pages still to come)."""
    frame = session.coverage.frame
    session.note(f"newest {depth:,} links read again in order")
    top = session.top
    for n in range(math.ceil(depth / PAGE_LIMIT)):
        offset = max(0, top - (n + 1) * PAGE_LIMIT) if frame == OLDEST else n * PAGE_LIMIT
        session.progress.add_pages(1)
        await session.every_link_page(offset)
    await session.writer.drain()


async def refresh(session: SyncSession, but_newest: int) -> None:
    """Fetch by id the links held as active that this sync has not observed (they may have
    changed), and ids quarantined before, unless reading the list again costs less. The
    `but_newest` newest links are left to the proof's page, which reads them anyway. A 404
    is noted in the pager's `vanished`, marked once the sync is verified (vanished.py)."""
    await session.writer.drain()
    gone = set(session.pager.vanished)
    ids = [link_id for link_id in (await session.db(session.store.unobserved_active, but_newest)
                                   + await session.db(session.store.unobserved_quarantined))
           if link_id not in gone]
    if not ids:
        return
    if len(ids) >= math.ceil(session.top / PAGE_LIMIT):
        session.note(f"{len(ids):,} links held as active, unobserved: a sweep costs less "
                     "than fetching them by id")
        return
    session.note(f"{len(ids):,} links held as active (or quarantined before), not observed in "
                 "a list: fetched by id")
    await session.pager.links(ids)


async def prove(session: SyncSession, include_final: bool) -> Proof:
    """The proof's page, sent after every other answer came, and the count against it."""
    await session.writer.drain()
    coverage = session.coverage
    newest_gap = coverage.gaps(0, session.top + 1)
    offset = newest_gap[-1][0] if coverage.frame == OLDEST and newest_gap else (
        coverage.newest_offset(session.top))
    session.progress.add_pages(1)
    _, page = await session.every_link_page(offset)
    await session.writer.drain()
    accounted = await session.db(session.store.accounted, include_final)
    return Proof(total=page.total, accounted=accounted)


async def record_status_totals(session: SyncSession, pages: dict[str, Page] | None) -> None:
    """PIK's totals per status (from `pages`, else read now) against the warehouse's
    counts, as information."""
    pages = pages or await session.status_pages()
    await session.writer.drain()
    result = session.result
    result.totals = {s: pages[s].total for s in STATUSES}
    result.counts = await session.db(session.store.counts)
    result.moved, result.moved_note = moved_note(result.totals, result.counts)
    session.note(result.moved_note)


async def settle(session: SyncSession, *, floor: int, include_final: bool,
                 proof_first: bool = False, status_pages: dict[str, Page] | None = None
                 ) -> None:
    """Cover, refresh, prove; where the proof fails, read what is missing and prove again.

    `floor`: the lowest index to cover (an incremental sync starts at the links it already
    holds, and falls back to 0, a full sweep). `status_pages`: the first page of every
    status, if the sync has read them already. Ends verified, or when the budget is spent
    (the caller records that verdict).
    """
    status_read = False
    tried_newest = False
    # a first full sweep leaves the newest links to the proof's page; anything else may not
    leave_newest = reserve(session) if floor == 0 and not proof_first else 0
    while True:
        stuck = not proof_first and not await cover(session, floor)
        proof_first = False
        await refresh(session, leave_newest)
        leave_newest = 0
        if not status_read:
            await record_status_totals(session, status_pages)
            status_read = True
        proof = await prove(session, include_final)
        session.result.total, session.result.accounted = proof.total, proof.accounted
        if proof.holds:
            await confirm(session, proof, include_final)
            return
        covered = stuck or not session.coverage.gaps(floor, proof.total)
        if proof.surplus and include_final:
            session.note(f"{proof.surplus:,} more links held than PIK counts: a full sweep")
            include_final, floor = False, 0
        elif proof.surplus:
            session.result.verdict = gap_verdict(proof, "PIK counts fewer links than it lists")
            return
        elif not covered:
            continue
        elif floor > 0:
            session.note(f"{proof.missing:,} links missing after reading the new ones: a full "
                         "sweep")
            floor = 0
        elif not tried_newest and session.coverage.frame in (NEWEST, OLDEST):
            tried_newest = True
            await read_newest(session, session.top - session.first_total + PAGE_LIMIT)
            proof_first = True
        else:
            session.note(f"{proof.missing:,} links missing after a full sweep: the list is "
                         "read again")
            session.coverage = Coverage(UNKNOWN, PAGE_LIMIT)

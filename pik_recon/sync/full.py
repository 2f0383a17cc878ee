"""The full sync, and the settle loop every sync ends with: read, prove, repair.

Pages are aimed in the coverage's frame (coverage.py): a page asked for while the list grows
still lands where it was meant to, and what a late or out-of-order answer left uncovered is
read again. The settle loop runs the proof (proof.py) and, where it fails, repairs in the
cheapest way it knows (`next_repair`), within the request budget:

    read      cover the unfiltered list from the floor (sweep.py), then fetch by id the
              records held open that nothing showed (`refresh`)
    prove     the proof's page, and the count against it
    repair    what the failed proof calls for, then refresh and prove again
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from pik_recon.client import PAGE_LIMIT, Page
from pik_recon.listorder import Order
from pik_recon.sync.proof import Proof, gap_verdict
from pik_recon.sync.session import SyncSession
from pik_recon.sync.sweep import cover, reserve
from pik_recon.sync.vanished import confirm


@dataclass
class Scope:
    """What the settle loop must account for: every index of the unfiltered list from
    `floor` up (an incremental sync starts at the records it already holds), and whether
    records held in a final status count without being observed (incremental)."""

    floor: int = 0
    include_final: bool = False
    tried_newest: bool = False  # the newest records were read again in order


class Repair(Enum):
    VERIFIED = "the proof holds"
    OBSERVE_ALL = "more held than PIK counts: count only what is observed, from index 0"
    REFUSED = "more observed than PIK counts: the total is wrong"
    COVER = "indexes left uncovered: read them"
    WIDEN = "the new records did not close it: sweep from index 0"
    NEWEST = "swept, still missing: read the newest records again in order"
    AGAIN = "nothing else left: read the whole list again by offset"


def next_repair(scope: Scope, proof: Proof, covered: bool, ordered: bool) -> Repair:
    """What a proof calls for: `covered`, no index from the floor to its total is left
    unread (or a page could not read its region); `ordered`, the list's order is one of
    creation, so reading its newest end in order skips nothing."""
    if proof.holds:
        return Repair.VERIFIED
    if proof.surplus:
        return Repair.OBSERVE_ALL if scope.include_final else Repair.REFUSED
    if not covered:
        return Repair.COVER
    if scope.floor > 0:
        return Repair.WIDEN
    if not scope.tried_newest and ordered:
        return Repair.NEWEST
    return Repair.AGAIN


async def full_sync(session: SyncSession) -> None:
    await session.begin()
    session.note(f"full sweep of every {session.resource.noun} ({session.every.order})")
    await settle(session, Scope())


async def settle(session: SyncSession, scope: Scope, *, read_first: bool = True,
                 status_pages: dict[str, Page] | None = None) -> None:
    """Read (unless `read_first` is False: an incremental sync has read already), prove,
    and repair until the proof holds; ends verified, refused, or when the budget is spent
    (the caller records that verdict). `status_pages`: the first page of every status, if
    the sync has read them already."""
    # a first full sweep leaves the newest records to the proof's page; anything else may not
    every = session.every
    leave_newest = reserve(every) if scope.floor == 0 and read_first else 0
    stuck = read_first and not await cover(every, scope.floor)
    await refresh(session, leave_newest)
    await session.take_status_totals(status_pages or await session.status_pages())
    while True:
        proof = await prove(session, scope.include_final)
        covered = stuck or not every.gaps(scope.floor, proof.total)
        repair = next_repair(scope, proof, covered, every.order in (Order.NEWEST, Order.OLDEST))
        if repair is Repair.VERIFIED:
            await confirm(session, proof, scope.include_final)
            return
        if repair is Repair.REFUSED:
            session.conclude(gap_verdict(proof, "PIK counts fewer "
                                         f"{session.resource.name} than it lists",
                                         session.resource))
            return
        stuck = await _repair(session, scope, repair, proof)
        await refresh(session, 0)


async def _repair(session: SyncSession, scope: Scope, repair: Repair, proof: Proof) -> bool:
    """Read what `repair` calls for; True when a page could not read its region."""
    what = session.resource.name
    if repair is Repair.OBSERVE_ALL:
        session.note(f"{proof.surplus:,} more {what} held than PIK counts: a full sweep")
        scope.include_final, scope.floor = False, 0
    elif repair is Repair.WIDEN:
        session.note(f"{proof.missing:,} {what} missing after reading the new ones: a full "
                     "sweep")
        scope.floor = 0
    elif repair is Repair.NEWEST:
        scope.tried_newest = True
        every = session.every
        await session.read_newest(every.top - every.first_total + PAGE_LIMIT)
        return False
    elif repair is Repair.AGAIN:
        session.note(f"{proof.missing:,} {what} missing after a full sweep: the list is "
                     "read again")
        session.every.read_again()
    return not await cover(session.every, scope.floor)


async def refresh(session: SyncSession, but_newest: int) -> None:
    """Fetch by id the records held open that this sync has not observed (they may have
    changed), and ids quarantined before, unless reading the list again costs less. The
    `but_newest` newest records are left to the proof's page, which reads them anyway. A
    404 is noted as vanished, marked once the sync is verified (vanished.py)."""
    ids = await session.stale(but_newest)
    if not ids:
        return
    what = session.resource
    if len(ids) >= math.ceil(session.every.top / PAGE_LIMIT):
        session.note(f"{what.many(len(ids))} held as {what.open_words}, unobserved: a sweep "
                     "costs less than fetching them by id")
        return
    session.note(f"{what.many(len(ids))} held as {what.open_words} (or quarantined before), "
                 "not observed in a list: fetched by id")
    await session.fetch_by_id(ids)


async def prove(session: SyncSession, include_final: bool) -> Proof:
    """The proof's page, sent after every other answer came, and the count against it."""
    await session.drain()
    every = session.every
    _, page = await every.page(every.proof_offset())
    proof = Proof(total=page.total, accounted=await session.accounted(include_final))
    session.take_proof(proof)
    return proof

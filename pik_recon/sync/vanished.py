"""After a proof that holds: the links the warehouse holds that PIK does not count.

When the links a sync accounts for number PIK's total, they are every link on PIK at that
instant. A link the warehouse holds beyond them (not vanished already) is then not on PIK:
the sync does not leave it as it was, but asks PIK for it by id. A 404 confirms it vanished;
the marks (`vanished_at`) are written once the sync is verified, so a sync that stops
leaves none, and the next one asks again. PIK does not delete links, so more than `[sync]
max_vanished` of them stop the sync at once (pages.py): the warehouse is another account's.
A link PIK still returns is stored as observed, and contradicts the total that left it out
(PIK counts fewer links than it has): the proof is counted again, and fails.

In an incremental sync, links held in a final status are accounted for without a request
(a final status never changes), so only links held as active that nothing showed are
checked; those held final are checked whenever a proof that holds rests on observation
alone: after a full sweep, or the full sweep an incremental sync falls back to.
"""

from __future__ import annotations

from pik_recon.sync.proof import Proof, gap_verdict, moved_note, verified_verdict
from pik_recon.sync.session import SyncSession


async def confirm(session: SyncSession, proof: Proof, include_final: bool) -> None:
    """Check the links held beyond a proof that holds, then record the verdict."""
    store, result = session.store, session.result
    gone = set(session.pager.vanished)  # found by refresh already
    ids = [i for i in await session.db(store.unaccounted, include_final) if i not in gone]
    found = 0
    if ids:
        session.note(f"{len(ids):,} links held that PIK's total leaves out: checked by id")
        session.checking = len(ids)
        before = session.pager.by_id
        await session.pager.links(ids)
        found = session.pager.by_id - before
        session.checking = 0
    if found:
        accounted = await session.db(store.accounted, include_final)
        result.accounted = accounted
        links = "1 link" if found == 1 else f"{found:,} links"
        result.verdict = gap_verdict(Proof(proof.total, accounted),
                                     f"PIK returned {links} by id that its total does not "
                                     "count")
        return
    await _mark_vanished(session)
    observed = await session.db(store.accounted, False)
    result.verified = True
    result.verdict = verified_verdict(proof, observed)


async def _mark_vanished(session: SyncSession) -> None:
    gone = session.pager.vanished
    if not gone:
        return
    result = session.result
    await session.db(session.store.mark_vanished, gone)
    result.vanished = len(gone)
    session.note(f"{len(gone):,} links PIK does not know (404 by id) marked vanished")
    if result.totals:
        result.counts = await session.db(session.store.counts)
        result.moved, result.moved_note = moved_note(result.totals, result.counts)

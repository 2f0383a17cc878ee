"""After a proof that holds: the records the warehouse holds that PIK does not count.

When the records a sync accounts for number PIK's total, they are every record on PIK at
that instant. A record the warehouse holds beyond them (not vanished already) is then not on
PIK: the sync does not leave it as it was, but asks PIK for it by id. A 404 confirms it
vanished; the marks (`vanished_at`) are written once the sync is verified, so a sync that
stops leaves none, and the next one asks again. PIK deletes no link and no transaction, so
more than `[sync] max_vanished` of them stop the sync at once (pages.py): the warehouse is
another account's. A record PIK still returns is stored as observed, and contradicts the
total that left it out (PIK counts fewer than it has): the proof is counted again, and
fails.

In an incremental sync, records held in a final status are accounted for without a request
(a final status never changes), so only records held open that nothing showed are checked;
those held final are checked whenever a proof that holds rests on observation alone: after a
full sweep, or the full sweep an incremental sync falls back to.

A record held that PIK served only malformed in this run is counted, but its state now is
unknown: the warehouse keeps the last readable one, so the sync is not verified, naming it.
"""

from __future__ import annotations

from pik_recon.sync.proof import Proof, gap_verdict, stale_verdict, verified_verdict
from pik_recon.sync.session import SyncSession


async def confirm(session: SyncSession, proof: Proof, include_final: bool) -> None:
    """Check the records held beyond a proof that holds, then record the verdict."""
    ids = await session.unaccounted(include_final)
    what = session.resource
    found = 0
    if ids:
        session.note(f"{what.many(len(ids))} held that PIK's total leaves out: checked by id")
        session.checking = len(ids)
        found = await session.fetch_by_id(ids)
        session.checking = 0
    if found:
        accounted = await session.accounted(include_final)
        session.take_proof(Proof(proof.total, accounted))
        session.conclude(gap_verdict(Proof(proof.total, accounted),
                                     f"PIK returned {what.many(found)} by id that its total "
                                     "does not count", what))
        return
    stale = await session.held_malformed()
    if stale:
        session.conclude(stale_verdict(stale, what))
        return
    await session.mark_vanished()
    observed = await session.accounted(False)
    session.conclude(verified_verdict(proof, observed, what), verified=True)

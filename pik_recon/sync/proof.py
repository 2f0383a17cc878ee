"""The completeness proof: a count that holds however the lists move.

PIK never removes a record (a link, a transaction), so the unfiltered list's `total` in an
answer is the number of records that exist at that instant, and every record observed
before it still exists then. The proof's last request is a page of the unfiltered list,
sent after every other answer came: if the records this sync accounts for (observed during
it, or, in an incremental sync, held in a final status, which never changes) number that
page's total, they are every record that existed then, and so every record that existed
when the sync started.
"""

from __future__ import annotations

from dataclasses import dataclass

from pik_recon.sync.resource import Resource


@dataclass(frozen=True)
class Proof:
    total: int  # PIK's count of every record, in the last answer of the sync
    accounted: int  # records this sync accounts for

    @property
    def holds(self) -> bool:
        return self.accounted == self.total

    @property
    def missing(self) -> int:
        return max(0, self.total - self.accounted)

    @property
    def surplus(self) -> int:
        """Records accounted for beyond PIK's count: PIK lost one, or counts wrongly."""
        return max(0, self.accounted - self.total)


def verified_verdict(proof: Proof, observed: int, resource: Resource) -> str:
    held = proof.accounted - observed
    kept = f", {held:,} held in a final status" if held > 0 else ""
    return (f"verified: all {proof.total:,} {resource.name} PIK counts are accounted for "
            f"({observed:,} observed in this sync{kept})")


def stale_verdict(stale: list[tuple[str, str]], resource: Resource) -> str:
    """Why a sync whose proof holds is not verified: records held that PIK served only
    malformed, whose current state the warehouse does not know."""
    shown = ", ".join(f"{i} (held as {status})" for i, status in stale[:5])
    more = f" and {len(stale) - 5:,} more" if len(stale) > 5 else ""
    return (f"not verified: PIK served {resource.many(len(stale))} the warehouse holds "
            f"malformed this time: {shown}{more}; the warehouse keeps the last readable "
            "status, which may be out of date (the quarantine table says why); sync again "
            f"once PIK serves {'it' if len(stale) == 1 else 'them'} readable")


def gap_verdict(proof: Proof | None, reason: str, resource: Resource) -> str:
    """Why a sync is not verified, with the gap it leaves."""
    if proof is None:
        return f"not verified: {reason}"
    what = resource.name
    if proof.surplus:
        return (f"not verified: {reason}; {proof.accounted:,} {what} are accounted for but "
                f"PIK counts {proof.total:,} (PIK may have deleted {what}, or its total is "
                "wrong)")
    return (f"not verified: {reason}; PIK counts {proof.total:,} {what}, {proof.accounted:,} "
            f"are accounted for ({proof.missing:,} missing)")


def moved_note(totals: dict[str, int], counts: dict[str, int],
               quarantined: dict[str, int], resource: Resource) -> tuple[int, str]:
    """How many records PIK lists under a status the warehouse does not hold them in (they
    changed or appeared after they were read, or were not read at all), beside those it
    lists that this run quarantined instead of holding, as information."""
    moved = sum(max(0, totals[s] - counts.get(s, 0) - quarantined.get(s, 0)) for s in totals)
    kept = {s: n for s, n in quarantined.items() if n and s in totals}
    notes = []
    if kept:
        where = ", ".join(f"{n:,} {s}" for s, n in kept.items())
        notes.append(f"{resource.many(sum(kept.values()))} PIK lists ({where}) not held: "
                     "malformed, quarantined instead (the `quarantine` table says why)")
    if moved:
        notes.append(f"{resource.many(moved)} under another status at PIK than in the "
                     "warehouse (changed or appeared while the sync ran, or not read); the "
                     "next sync reads them")
    return moved, "; ".join(notes) or "the warehouse's count per status equals PIK's totals"

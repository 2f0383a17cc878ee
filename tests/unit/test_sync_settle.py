"""full.next_repair: what a proof calls for, from its numbers and what was tried."""

from __future__ import annotations

import pytest

from pik_recon.sync.full import Repair, Scope, next_repair
from pik_recon.sync.proof import Proof

FULL = Scope()
INCREMENTAL = Scope(floor=4_000, include_final=True)


@pytest.mark.parametrize(("scope", "proof", "covered", "ordered", "repair"), [
    (FULL, Proof(5_000, 5_000), False, False, Repair.VERIFIED),
    (INCREMENTAL, Proof(5_000, 5_000), True, True, Repair.VERIFIED),
    # more accounted than counted: with held finals counted, observe instead; without, PIK
    # lists more than it counts
    (INCREMENTAL, Proof(5_000, 5_003), True, True, Repair.OBSERVE_ALL),
    (FULL, Proof(5_000, 5_003), True, True, Repair.REFUSED),
    (FULL, Proof(5_000, 4_990), False, True, Repair.COVER),
    (INCREMENTAL, Proof(5_000, 4_990), False, True, Repair.COVER),
    (INCREMENTAL, Proof(5_000, 4_990), True, True, Repair.WIDEN),
    (FULL, Proof(5_000, 4_990), True, True, Repair.NEWEST),
    (FULL, Proof(5_000, 4_990), True, False, Repair.AGAIN),  # no newest end to read in order
    (Scope(tried_newest=True), Proof(5_000, 4_990), True, True, Repair.AGAIN),
])
def test_the_repair_a_proof_calls_for(scope: Scope, proof: Proof, covered: bool,
                                      ordered: bool, repair: Repair) -> None:
    assert next_repair(scope, proof, covered, ordered) is repair

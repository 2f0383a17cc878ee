"""`pik-recon sync`: every payment link into the warehouse, proven complete.

    run.py          sync_accounts: accounts side by side; a session, the strategy, the
                    sync_runs record of each
    session.py      one run's state and result; per-status reads
    full.py         the full sweep and the settle loop (cover, refresh, prove)
    sweep.py        the sweep's chains of pages across the regions of the list
    incremental.py  the incremental strategy, planned by plan.py
    coverage.py     which indexes of the unfiltered list are read (the frame)
    proof.py        the count proof and the verdicts
    pages.py        requests within the budget; the progress protocol
    writer.py       the batch writer in front of the warehouse
    store.py        the sync's side of the warehouse
    vanished.py     links PIK no longer lists, asked for by id
"""

from pik_recon.sync.run import AccountSync, sync_accounts
from pik_recon.sync.session import SyncResult

__all__ = ["AccountSync", "SyncResult", "sync_accounts"]

"""`pik-recon sync`: every payment link and every transaction into the warehouse, each list
proven complete.

    run.py          sync_accounts: accounts side by side, each its links then its
                    transactions; a sync run per list, recorded in sync_runs
    resource.py     the lists (links, transactions): paths, statuses, tables, parsers, SQL
    session.py      one run of one list: its operations by name, its SyncResult
    full.py         the full sweep, and the settle loop (read, prove, repair)
    incremental.py  the incremental strategy, planned by plan.py
    unfiltered.py   the unfiltered list as a run reads it (its coverage and totals)
    coverage.py     which indexes of the unfiltered list are read (the frame)
    sweep.py        sweeping the unfiltered list in chains of pages
    proof.py        the count proof and the verdicts
    vanished.py     after a proof holds: records held that PIK does not count
    pages.py        requests within the budget, counted and shown (the progress protocol)
    counts.py       RequestCounts: a run's requests, written in one place
    writer.py       the batch writer in front of the warehouse
    merge.py        merging fetched pages, quarantining malformed records
    store.py        a run's side of the warehouse: its sync_runs row, what the proof counts
"""

from pik_recon.sync.counts import RequestCounts
from pik_recon.sync.run import AccountSync, sync_accounts
from pik_recon.sync.session import SyncResult

__all__ = ["AccountSync", "RequestCounts", "SyncResult", "sync_accounts"]

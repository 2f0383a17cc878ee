"""The incremental sync: a small fraction of a full sweep's requests, the same proof.

What the API gives: per-status `total` on every page, final statuses that never change, new
links that start `active`, and single-link fetches; what the warehouse remembers: every link
and which were active. So:

1. the first page of every status gives PIK's totals now;
2. each final status gained exactly `total - warehouse count` links (new links that were
   already paid or expired, and links that were active at the last sync): its list is read
   from the top until all of them are found, while pages keep finding them;
3. new links are newest: the active list is read from the top until a page brings nothing
   new — or, when step 2 left links unaccounted for (a link created months ago that changed,
   say), the whole active list is read once, and a link the warehouse holds as active that
   PIK no longer lists as active is fetched by id;
4. then the full sync's verification: counts per status must equal PIK's totals, with a full
   sweep of any status that disagrees.

Newest-first is not promised by the API: every page is checked, and a status whose pages are
not newest first is swept in full.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pik_recon.client import PAGE_LIMIT
from pik_recon.links import STATUSES, newest_first
from pik_recon.logs import get_logger
from pik_recon.sync import SyncEngine, SyncResult

log = get_logger("incremental")
FINAL = tuple(s for s in STATUSES if s != "active")
MIN_NEWS_PER_PAGE = 2


async def run_incremental_sync(engine: SyncEngine) -> SyncResult:
    engine.result.mode = "incremental"
    firsts = await engine.first_pages(STATUSES)
    for status, page in firsts.items():
        await engine.ingest(page, status)
    await engine.drain()
    totals = {s: p.total for s, p in firsts.items()}
    unordered = [s for s in STATUSES if not newest_first(firsts[s].data)]
    short = []
    for status in FINAL:
        if status in unordered:
            continue
        found = await _fill_from_top(engine, status, totals[status])
        if found is None:
            unordered.append(status)
        elif not found:
            short.append(status)
    if short and "active" not in unordered:
        await _active_list_difference(engine, short)  # reads the new links too
    elif "active" not in unordered:
        if await engine.catch_up("active") is None:
            unordered.append("active")
        else:
            engine.result.strategy.append("active: new links read from the top")
    for status in unordered:
        log.info("%s links are not listed newest first: sweeping the status", status)
        await engine.sweep_in_order(status)
    await engine.settle(by_id_unlisted=False)
    return engine.result


async def _fill_from_top(engine: SyncEngine, status: str, target: int) -> bool | None:
    """Read a final status from the top until the warehouse holds `target` of it.

    A page is worth reading while it finds at least two links (fetching them by id would
    cost more): True when filled, False when pages stopped paying, None when the list is not
    newest first.
    """
    offset, pages = PAGE_LIMIT, 0  # the first page is in already
    while (await engine.db(engine.store.counts))[status] < target:
        page = await engine.page(status, offset)
        engine.progress.add_pages(1)
        pages += 1
        if not newest_first(page.data):
            return None
        merged = await engine.ingest_now(page, status)
        if merged.new + merged.changed < MIN_NEWS_PER_PAGE or not page.data:
            engine.result.strategy.append(f"{status}: {pages} pages from the top, the rest "
                                          "is scattered")
            return False
        offset += PAGE_LIMIT
    engine.result.strategy.append(f"{status}: filled from the top in {pages + 1} pages")
    return True


async def _active_list_difference(engine: SyncEngine, short: list[str]) -> None:
    """Read the active list once; links held as active that it no longer shows are fetched
    by id (they are the ones that changed)."""
    moment = datetime.now(UTC)
    await engine.sweep_in_order("active")
    changed = await engine.db(engine.store.active_ids_seen_before, moment)
    engine.result.strategy.append(f"{', '.join(short)} not filled from the top: active list "
                                  f"read, {len(changed)} changed links fetched by id")
    await engine.refresh(changed)

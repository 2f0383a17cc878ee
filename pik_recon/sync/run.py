"""Running a sync: the session, the strategy (full or incremental), and its record."""

from __future__ import annotations

import asyncio

import httpx

from pik_recon.client import PikClient
from pik_recon.config import Config, SyncSettings
from pik_recon.sync.full import full_sync
from pik_recon.sync.incremental import incremental_sync
from pik_recon.sync.pages import BudgetSpent, NoProgress, Progress
from pik_recon.sync.proof import Proof, gap_verdict
from pik_recon.sync.session import SyncResult, SyncSession
from pik_recon.sync.store import MEMORY_LIMIT, RunRecord, SyncStore
from pik_recon.warehouse import Warehouse


async def run_sync(client: PikClient, store: SyncStore, settings: SyncSettings, *,
                   concurrency: int, progress: Progress | None = None,
                   incremental: bool = False) -> SyncResult:
    """One sync run, recorded in sync_runs whatever happens."""
    session = SyncSession(client, store, settings, concurrency, progress or NoProgress(),
                          "incremental" if incremental else "full")
    try:
        try:
            await (incremental_sync(session) if incremental else full_sync(session))
        except BudgetSpent:
            await _budget_spent(session, incremental)
    except BaseException as exc:
        _count(session)
        await session.db(store.finish_run, _record(session.result, "failed", exc))
        session.close()
        raise
    _count(session)
    await session.db(store.finish_run, _record(session.result, "finished"))
    session.close()
    return session.result


async def _budget_spent(session: SyncSession, incremental: bool) -> None:
    """Stop where the budget ran out, keeping what was read, with the gap it leaves."""
    await session.writer.drain()
    result = session.result
    accounted = await session.db(session.store.accounted, incremental)
    result.total, result.accounted = session.top, accounted
    session.note(f"request budget of {result.budget:,} requests spent")
    result.verdict = gap_verdict(Proof(session.top, accounted),
                                 f"the request budget of {result.budget:,} requests is spent")


def _count(session: SyncSession) -> None:
    result, writer, pager = session.result, session.writer, session.pager
    result.new, result.changed, result.quarantined = (writer.new, writer.changed,
                                                       writer.quarantined)
    result.requests = session.client.stats.requests
    result.retries = session.client.stats.retries
    result.spent = pager.budget.spent
    result.by_id = pager.by_id


def _record(result: SyncResult, state: str, exc: BaseException | None = None) -> RunRecord:
    reason = (str(exc) or type(exc).__name__) if exc is not None else None
    return RunRecord(
        state=state, strategy="; ".join(result.strategy), verified=result.verified,
        verdict=f"failed: {reason}" if reason else result.verdict, requests=result.requests,
        retries=result.retries, new=result.new, changed=result.changed,
        quarantined=result.quarantined, totals=result.totals or None,
        counts=result.counts or None, budget=result.budget, spent=result.spent,
        total=result.total, accounted=result.accounted, vanished=result.vanished,
        moved=result.moved, error=reason)


def sync_links(config: Config, *, full: bool = False,
               transport: httpx.AsyncBaseTransport | None = None,
               progress: Progress | None = None) -> SyncResult:
    """Run `pik-recon sync`: incremental once a verified full sync exists, unless `full`."""
    api_key = config.require_api_key()

    async def _run() -> SyncResult:
        async with PikClient(config.pik, api_key, transport=transport) as client:
            with Warehouse.open(config.db_path, memory_limit=MEMORY_LIMIT) as warehouse:
                # one DuckDB thread: the writer shares two cores with fetching
                warehouse.execute("SET threads = 1")
                store = SyncStore(warehouse)
                incremental = not full and store.has_verified_full_sync()
                store.begin_run("incremental" if incremental else "full")
                return await run_sync(client, store, config.sync,
                                      concurrency=config.pik.concurrency, progress=progress,
                                      incremental=incremental)

    return asyncio.run(_run())

"""Running a sync: the engine, the strategy (full or incremental), and its record."""

from __future__ import annotations

import asyncio

import httpx

from pik_recon.client import PikClient
from pik_recon.config import Config, SyncSettings
from pik_recon.incremental import run_incremental_sync
from pik_recon.sync import Progress, SyncEngine, SyncResult, run_full_sync
from pik_recon.syncstore import MEMORY_LIMIT, SyncStore
from pik_recon.warehouse import Warehouse


async def run_sync(client: PikClient, store: SyncStore, settings: SyncSettings, *,
                   concurrency: int, progress: Progress | None = None,
                   incremental: bool = False) -> SyncResult:
    """One sync run, recorded in sync_runs whatever happens."""
    engine = SyncEngine(client, store, settings, concurrency, progress)
    engine.result.mode = "incremental" if incremental else "full"
    try:
        result = await (run_incremental_sync(engine) if incremental else run_full_sync(engine))
    except BaseException as exc:
        engine.result.requests = client.stats.requests
        await engine.db(_record_failure, store, engine.result, exc)
        engine.close()
        raise
    result.requests = client.stats.requests
    result.retries = client.stats.retries
    await engine.db(_record, store, result)
    engine.close()
    return result


def _record(store: SyncStore, result: SyncResult) -> None:
    store.finish_run(state="finished", strategy="; ".join(result.strategy),
                     verified=result.verified, verdict=result.verdict,
                     requests=result.requests, retries=result.retries, new=result.new,
                     changed=result.changed, quarantined=result.quarantined,
                     totals=result.totals, counts=result.counts)


def _record_failure(store: SyncStore, result: SyncResult, exc: BaseException) -> None:
    reason = str(exc) or type(exc).__name__
    store.finish_run(state="failed", strategy="; ".join(result.strategy), verified=False,
                     verdict=f"failed: {reason}", requests=result.requests,
                     retries=result.retries, new=result.new, changed=result.changed,
                     quarantined=result.quarantined, totals=None, counts=None, error=reason)


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

"""Running a sync: per account, its links then its transactions, each a sync run of its own
(a session, the strategy, full or incremental, and its sync_runs record)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pik_recon.client import PikClient
from pik_recon.config import Config
from pik_recon.errors import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_TEMPORARY,
    ForeignWarehouseError,
    IncompleteSyncError,
    Interrupted,
    PikReconError,
)
from pik_recon.logs import ACCOUNT, get_logger
from pik_recon.sync.full import full_sync
from pik_recon.sync.incremental import incremental_sync
from pik_recon.sync.merge import merge_batch
from pik_recon.sync.pages import BudgetSpent, NoProgress, Progress
from pik_recon.sync.proof import Proof, gap_verdict
from pik_recon.sync.resource import LINKS, TRANSACTIONS, Resource
from pik_recon.sync.session import SyncResult, SyncSession
from pik_recon.sync.store import MEMORY_LIMIT, RunRecord, SyncStore
from pik_recon.sync.writer import BatchWriter
from pik_recon.warehouse import Warehouse

log = get_logger("sync")


class Interruption:
    """SIGINT (Ctrl-C) and SIGTERM during a sync: the sync's task is cancelled, so each
    account's run records itself `interrupted` and nothing half-merged is committed; a
    second signal stops at once."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def reason(self) -> str:
        name = signal.Signals(self.signum).name if self.signum else "a signal"
        return f"interrupted by {name}"

    @contextlib.contextmanager
    def watch(self, task: asyncio.Task[object]) -> Iterator[None]:
        """Take SIGINT, and SIGTERM unless someone else handles it (a job finishes its
        step on SIGTERM), while the sync runs; off the main thread (the scheduler's jobs)
        signals are not ours to take."""
        loop = asyncio.get_running_loop()
        taken: list[tuple[int, object]] = []
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous = signal.getsignal(signum)
                if previous is signal.SIG_IGN or (signum == signal.SIGTERM
                                                  and previous is not signal.SIG_DFL):
                    continue
                loop.add_signal_handler(signum, self._stop, signum, task)
                taken.append((signum, previous))
        try:
            yield
        finally:
            for signum, previous in taken:
                loop.remove_signal_handler(signum)
                signal.signal(signum, previous)  # type: ignore[arg-type]

    def _stop(self, signum: int, task: asyncio.Task[object]) -> None:
        if self.signum is not None:
            raise Interrupted(signum)
        self.signum = signum
        log.warning("%s: stopping the sync; what is not merged yet is not kept",
                    signal.Signals(signum).name)
        task.cancel()


@dataclass(frozen=True)
class ListSync:
    """What one sync run of one list is given."""

    client: PikClient
    warehouse: Warehouse
    writer: BatchWriter
    config: Config
    full: bool
    progress: Progress
    interruption: Interruption


async def sync_list(run: ListSync, resource: Resource) -> SyncResult:
    """One sync run of one list of the account, recorded in sync_runs whatever happens:
    incremental once the list has a verified full sync, unless `full`."""
    store = SyncStore(run.warehouse, run.config.account, resource)
    incremental = not run.full and store.has_verified_full_sync()
    store.begin_run("incremental" if incremental else "full")
    session = SyncSession(run.client, run.writer.for_run(store), resource, run.config.sync,
                          run.config.pik.concurrency, run.progress,
                          "incremental" if incremental else "full")
    try:
        try:
            await (incremental_sync(session) if incremental else full_sync(session))
        except BudgetSpent:
            await _budget_spent(session, incremental)
    except (asyncio.CancelledError, KeyboardInterrupt):
        session.count_up()
        await session.finish(_record(session.result, "interrupted",
                                     reason=run.interruption.reason))
        raise
    except BaseException as exc:
        session.count_up()
        await session.finish(_record(session.result, "failed", exc))
        raise
    session.count_up()
    await session.finish(_record(session.result, "finished"))
    return session.result


async def _budget_spent(session: SyncSession, incremental: bool) -> None:
    """Stop where the budget ran out, keeping what was read, with the gap it leaves."""
    accounted = await session.accounted(incremental)
    await session.take_held_counts()
    top, what = session.every.top, session.resource
    session.take_proof(Proof(top, accounted))
    budget = session.result.requests.budget or 0
    session.note(f"request budget of {budget:,} requests spent")
    spent = f"the request budget of {budget:,} requests is spent"
    if session.checking:  # the proof held; the records it leaves out were being checked
        session.conclude(f"not verified: {spent} checking by id the {session.checking:,} "
                         f"{what.name} the warehouse holds that PIK's total leaves out ("
                         f"{len(session.vanished):,} PIK does not know so far)")
        return
    session.conclude(gap_verdict(Proof(top, accounted), spent, what))


def _record(result: SyncResult, state: str, exc: BaseException | None = None,
            reason: str | None = None) -> RunRecord:
    """The sync_runs row; `exc` failed the run, `reason` says why it stopped otherwise."""
    verdict, verified = result.verdict, result.verified
    if exc is not None:
        reason = str(exc) or type(exc).__name__
        # another account's warehouse is a verdict on the warehouse, not a failure of ours
        verdict = (f"not verified: {reason}" if isinstance(exc, ForeignWarehouseError)
                   else f"failed: {reason}")
        verified = False
    elif reason is not None:
        verdict, verified = f"not verified: {reason}", False
    return RunRecord(
        state=state, strategy="; ".join(result.strategy), verified=verified,
        verdict=verdict, requests=result.requests, new=result.new, changed=result.changed,
        quarantined=result.quarantined, totals=result.totals or None,
        counts=result.counts or None, total=result.total, accounted=result.accounted,
        vanished=result.vanished, moved=result.moved, error=reason)


@dataclass
class AccountSync:
    """One account's part of a sync: the result of its links' run and of its
    transactions' run, or what stopped them. The transactions are synced after the links,
    unless an error stopped the links (an unverified links sync does not stop them)."""

    account: str
    links: SyncResult | None = None
    transactions: SyncResult | None = None
    error: Exception | None = None  # what stopped the account's sync, if anything did

    @property
    def results(self) -> list[SyncResult]:
        """The runs that ended with a result, links first."""
        return [r for r in (self.links, self.transactions) if r is not None]

    @property
    def verified(self) -> bool:
        """Both lists proven complete."""
        return (self.error is None and self.links is not None and self.transactions is not None
                and self.links.verified and self.transactions.verified)

    def failure(self) -> Exception | None:
        """What to report: the error, else an IncompleteSyncError naming each run that
        could not prove its list complete (exit 4), else None."""
        if self.error is not None:
            return self.error
        unproven = [f"sync run {r.run_id} ({r.resource}) {r.verdict}" for r in self.results
                    if not r.verified]
        return IncompleteSyncError("; ".join(unproven)) if unproven else None

    @property
    def exit_code(self) -> int:
        """0 when both lists are verified; 4 for a list that could not prove itself
        complete; 2 to 5 as the error says."""
        failure = self.failure()
        if failure is None:
            return EXIT_OK if self.verified else EXIT_TEMPORARY
        return failure.exit_code if isinstance(failure, PikReconError) else EXIT_INTERNAL


def sync_accounts(configs: Sequence[Config], *, full: bool = False,
                  progress: Callable[[str], Progress] | None = None,
                  wait_seconds: float = 0.0) -> list[AccountSync]:
    """Run `pik-recon sync` for several accounts side by side (each with its own client,
    limiter, sync runs and verdicts; its links, then its transactions); one account's
    failure leaves the others running. Each list is synced incrementally once it has a
    verified full sync, unless `full`. `progress(account)`: the account's progress bar.
    Waits up to `wait_seconds` for another process that holds the warehouse."""

    interruption = Interruption()

    async def _run() -> list[AccountSync]:
        task = asyncio.current_task()
        assert task is not None
        with interruption.watch(task), Warehouse.open(
                configs[0].db_path, memory_limit=MEMORY_LIMIT,
                wait_seconds=wait_seconds) as warehouse:
            # one DuckDB thread per query: the writer shares two cores with fetching
            warehouse.execute("SET threads = 1")
            with warehouse.cursor() as merging:
                # one writer for all accounts: one batch, one join with each list's table
                writer = BatchWriter(functools.partial(merge_batch, merging),
                                     configs[0].sync.batch_rows)
                try:
                    return list(await asyncio.gather(*(
                        _sync_account(warehouse, writer, config, full, len(configs) > 1,
                                      progress(config.account) if progress else None,
                                      interruption)
                        for config in configs)))
                finally:
                    writer.close()

    try:
        return asyncio.run(_run())
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise Interrupted(interruption.signum or signal.SIGINT) from None


async def _sync_account(warehouse: Warehouse, writer: BatchWriter, config: Config, full: bool,
                        several: bool, progress: Progress | None,
                        interruption: Interruption) -> AccountSync:
    outcome = AccountSync(config.account)
    if several:
        ACCOUNT.set(config.account)  # this task's logs name its account
    try:
        api_key = config.require_api_key()
        async with PikClient(config.pik, api_key,
                             on_wait=progress.waiting if progress else None) as client:
            with warehouse.cursor() as cursor:
                run = ListSync(client, cursor, writer, config, full, progress or NoProgress(),
                               interruption)
                outcome.links = await sync_list(run, LINKS)
                outcome.transactions = await sync_list(run, TRANSACTIONS)
    except Exception as exc:  # the other accounts go on; the caller reports this one
        log.debug("sync of account %s failed", config.account, exc_info=True)
        outcome.error = exc
    return outcome

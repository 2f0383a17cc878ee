"""`pik-recon links create`: one payment link per CSV row, exactly once.

PIK has no idempotency key, so the ledger (`link_requests`) is the memory: a row is recorded
before its POST, marked `sent` — with a position on PIK's list answered before the send —
just before it goes on the wire, and `created` when PIK's answer is stored. A row left `sent`
(a timeout, a dropped connection, a 5xx, or a kill) has an unknown outcome: it is looked for
among the links PIK lists beyond its position (same description, amount and currency) before
any retry, and sent again only when proven absent (newest.py says when a read proves that).
Where absence cannot be proven the row stays `sent`, reported unknown, and is not sent again.
"""

from __future__ import annotations

import asyncio
import csv
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx

from pik_recon.client import PikClient
from pik_recon.config import Config, Secret
from pik_recon.creation.ledger import Ledger, LedgerRow
from pik_recon.creation.newest import NewestLinks, Position
from pik_recon.errors import (
    InputError,
    InvalidRequestError,
    MalformedResponseError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from pik_recon.logs import get_logger
from pik_recon.money import PIK_CURRENCIES, currency_decimals, parse_amount
from pik_recon.paths import check_file_target, ensure_folder, writing
from pik_recon.warehouse import Warehouse

log = get_logger("bulk")
MAX_SENDS = 8  # POSTs of one row whose answers were lost and whose links proven absent
ANSWER_BATCH = 100  # created links stored per transaction
MARK_AHEAD = 8  # rows marked `sent` per write, per unit of concurrency
OUTPUT_COLUMNS = ("order_id", "link_id", "url", "amount", "currency", "state", "error")


@dataclass(frozen=True)
class CreateRow:
    line: int
    order_id: str
    amount_text: str
    currency: str
    description: str

    @property
    def amount(self) -> Decimal:
        return Decimal(self.amount_text)


@dataclass
class Outcome:
    row: CreateRow
    state: str
    link_id: str | None = None
    url: str | None = None
    error: str | None = None


def _check_amount(text: str, currency: str) -> str | None:
    if not text or not all(c.isdigit() or c == "." for c in text) or text.count(".") > 1:
        return f"amount {text!r} is not a decimal like 75.00"
    try:
        value = Decimal(text)
    except InvalidOperation:
        return f"amount {text!r} is not a decimal like 75.00"
    if value <= 0:
        return f"amount {text!r} must be positive"
    exponent = value.as_tuple().exponent
    places = currency_decimals(currency)
    if isinstance(exponent, int) and -exponent > places:
        return f"amount {text!r} has more decimals than {currency} allows ({places})"
    return None


def read_rows(path: Path) -> list[CreateRow]:
    """Read and validate the whole file; every bad line is reported, nothing half-read."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            reader.fieldnames = header
            missing = [c for c in ("order_id", "amount", "currency") if c not in header]
            if missing:
                raise InputError(f"{path}: missing column(s) {', '.join(missing)}; expected "
                                 "order_id, amount, currency[, description]; found "
                                 f"{', '.join(header) or 'no header'}")
            rows, problems, bad_ids = [], [], {}
            for record in reader:
                line = reader.line_num
                row, problem = _row(record, line)
                if problem:
                    problems.append(f"{path} line {line}: {problem}")
                    bad_ids[line] = (record.get("order_id") or "").strip()
                elif row:
                    rows.append(row)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable UTF-8 CSV ({exc})") from None
    problems += _duplicates(path, rows, bad_ids)
    if problems:
        raise InputError(f"{path}: {len(problems)} bad row(s), nothing was sent:", problems)
    if not rows:
        raise InputError(f"{path}: no rows to create")
    return rows


def _row(record: dict[str, Any], line: int) -> tuple[CreateRow | None, str | None]:
    if None in record:
        return None, "more cells than the header has"
    order_id = (record.get("order_id") or "").strip()
    amount = (record.get("amount") or "").strip()
    currency = (record.get("currency") or "").strip().upper()
    description = (record.get("description") or "").strip() or f"Order #{order_id}"
    if not any((order_id, amount, currency)):
        return None, None
    if not order_id:
        return None, "order_id is empty"
    if currency not in PIK_CURRENCIES:
        return None, f"currency {currency!r} is not one of {', '.join(PIK_CURRENCIES)}"
    problem = _check_amount(amount, currency)
    if problem:
        return None, problem
    if len(description) > 255:
        return None, "description is longer than 255 characters"
    return CreateRow(line, order_id, amount, currency, description), None


def _duplicates(path: Path, rows: list[CreateRow], bad_ids: dict[int, str]) -> list[str]:
    """Order ids and descriptions must be unique (a lost answer is found by description);
    an order id counts on a bad line too (`bad_ids`: line -> its order id)."""
    problems, repeated = [], set()
    for what in ("order_id", "description"):
        first: dict[str, int] = {}
        found = [(row.line, getattr(row, what)) for row in rows]
        if what == "order_id":
            found = sorted(found + [(line, oid) for line, oid in bad_ids.items() if oid])
        for line, value in found:
            if line in repeated:
                continue
            if value in first:
                problems.append(f"{path} line {line}: {what} {value!r} is also on line "
                                f"{first[value]} ({what}s must be unique)")
                repeated.add(line)
            else:
                first[value] = line
    return problems


def plan(rows: list[CreateRow], ledger: Ledger) -> tuple[list[CreateRow], dict[str, Outcome]]:
    """Split rows into those to send (new, or unresolved) and those already settled."""
    known = ledger.rows([r.order_id for r in rows])
    taken = ledger.descriptions_in_use([r.description for r in rows],
                                       [r.order_id for r in rows])
    todo, settled = [], {}
    for row in rows:
        old = known.get(row.order_id)
        if old is not None and (old.amount != row.amount or old.currency != row.currency):
            settled[row.order_id] = Outcome(row, "conflict", error=_conflict(old))
        elif old is not None and old.state == "created":
            settled[row.order_id] = Outcome(row, "exists", old.link_id, old.url)
        elif old is None and row.description in taken:
            settled[row.order_id] = Outcome(row, "conflict", error=(
                f"description {row.description!r} is already used by order "
                f"{taken[row.description]}"))
        else:
            todo.append(row)
    return todo, settled


def _conflict(old: LedgerRow) -> str:
    """Name the order's existing link without handing out its URL: the URL asks for the
    other amount, and the row beside it shows this file's amount."""
    asked = f"{old.amount.normalize():f} {old.currency}"
    if old.link_id:
        return f"order already has link {old.link_id} for {asked}; not created"
    return f"order already has a link request for {asked}; not created"


@dataclass
class BulkStats:
    posts: int = 0
    resolved_existing: int = 0
    proven_absent: int = 0
    outcomes: dict[str, Outcome] = field(default_factory=dict)


class LinkFinder:
    """Looks for the links of rows whose POST got no answer. Look-ups waiting at the same
    time share one read of the newest links, down to the lowest of their positions."""

    def __init__(self, client: PikClient) -> None:
        self.newest = NewestLinks(client)
        self._waiting: list[tuple[CreateRow, Position, asyncio.Future[Any]]] = []
        self._reading = asyncio.Lock()

    async def find(self, row: CreateRow, position: Position
                   ) -> list[dict[str, Any]] | None:
        """PIK's links for this row: none when proven absent beyond `position`, None when
        the list cannot prove it."""
        future: asyncio.Future[list[dict[str, Any]] | None] = (
            asyncio.get_running_loop().create_future())
        self._waiting.append((row, position, future))
        async with self._reading:  # a read that began before this row waited does not count
            if not future.done():
                batch, self._waiting = self._waiting, []
                try:
                    newest = await self.newest.since(
                        min((p for _, p, _ in batch), key=lambda p: p.total))
                except BaseException as exc:
                    for _, _, waiting in batch:
                        if waiting is not future:
                            waiting.set_exception(exc)
                    raise
                for waiting_row, _, waiting in batch:
                    found = [item for item in newest.records if _same(item, waiting_row)]
                    waiting.set_result(found if found or newest.proven else None)
        return future.result()


class BulkCreator:
    """Creates the planned rows, `concurrency` at a time within the creation limit."""

    def __init__(self, client: PikClient, ledger: Ledger, concurrency: int, stats: BulkStats,
                 advance: Callable[[], None] = lambda: None) -> None:
        self.client = client
        self.finder = LinkFinder(client)
        self.ledger = ledger
        self.concurrency = concurrency
        self.advance = advance
        self.stats = stats
        # every ledger write goes to one thread, in order, while the requests go on
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._marks: dict[str, asyncio.Future[Position]] = {}
        self._frontier = 0  # rows before this index have had their marking requested
        self._answers: list[tuple[str, str, str | None, str | None]] = []
        self._stores: list[asyncio.Future[None]] = []
        self._late: set[str] = set()  # rows a POST of which timed out in this run

    def _write(self, fn: Callable[..., None], *args: Any, **kwargs: Any) -> asyncio.Future[None]:
        return asyncio.get_running_loop().run_in_executor(
            self._writer, lambda: fn(*args, **kwargs))

    async def run(self, rows: list[CreateRow], known: dict[str, LedgerRow]) -> BulkStats:
        states = {r.order_id: known[r.order_id].state if r.order_id in known else "pending"
                  for r in rows}
        indexes = iter(range(len(rows)))

        async def worker() -> None:
            for index in indexes:
                row = rows[index]
                if states[row.order_id] == "sent":  # its outcome unknown: looked for first
                    outcome = await self._one(row, known[row.order_id].position,
                                              unsent=False)
                else:
                    outcome = await self._one(row, await self._marked(rows, index, states),
                                              unsent=True)
                self.stats.outcomes[row.order_id] = outcome
                self.advance()

        try:
            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
            self._store_answers()
            await asyncio.gather(*self._stores)
        finally:
            self._writer.shutdown(wait=True)
            if self._answers:  # interrupted: store what came back before the run stops
                self.ledger.mark_created(self._answers)
                self._answers = []
        return self.stats

    async def _marked(self, rows: list[CreateRow], index: int, states: dict[str, str]
                      ) -> Position:
        """Mark rows `sent` ahead of their POSTs, a window at a time in one write, with a
        position on PIK's list answered just before; started while a window of marked rows
        is still ahead, so no POST waits for it. Returns the row's recorded position. A kill
        leaves at most two windows `sent` without a POST; the next run looks for them beyond
        their position, finds nothing, and sends them."""
        window = self.concurrency * MARK_AHEAD
        if self._frontier < min(index + window, len(rows)):
            ahead = rows[max(self._frontier, index):index + 2 * window]
            ids = [r.order_id for r in ahead
                   if states[r.order_id] != "sent" and r.order_id not in self._marks]
            if ids:
                marking = asyncio.ensure_future(self._mark_window(ids))
                for marked in ids:
                    self._marks[marked] = marking
            self._frontier = index + 2 * window
        return await self._marks[rows[index].order_id]

    async def _mark_window(self, order_ids: list[str]) -> Position:
        position = await self.finder.newest.position()
        await self._write(self.ledger.mark_sent, order_ids, position)
        return position

    def _store_answers(self) -> None:
        """Created links are stored in batches: a kill before a batch is stored leaves its
        rows `sent`, and the next run finds their links on PIK instead of sending again."""
        if self._answers:
            answers, self._answers = self._answers, []
            self._stores.append(self._write(self.ledger.mark_created, answers))

    async def _one(self, row: CreateRow, position: Position, *, unsent: bool) -> Outcome:
        """Settle one row marked `sent` at `position`: `unsent`, its POST is still to go;
        otherwise its outcome is unknown and its link is looked for first."""
        for _ in range(MAX_SENDS):
            if not unsent:
                found = await self.finder.find(row, position)
                if found is None:
                    error = ("PIK's list cannot prove the link absent (not in creation "
                             "order, its newest link out of place, or pages short of their "
                             "total); it is not sent again: run the file again later")
                    await self._write(self.ledger.mark, row.order_id, "sent", error=error)
                    return Outcome(row, "unknown", error=error)
                if found:
                    self.stats.resolved_existing += 1
                    return self._created(row, found, "created")
                if row.order_id in self._late:
                    error = ("PIK did not answer in time and may still create the link (a "
                             "request can be acted on after its answer was given up); it is "
                             "not sent again: run the file again later")
                    await self._write(self.ledger.mark, row.order_id, "sent", error=error)
                    return Outcome(row, "unknown", error=error)
                self.stats.proven_absent += 1
                position = await self.finder.newest.position()  # answered before this send
                await self._write(self.ledger.mark_sent, [row.order_id], position)
            unsent = False
            outcome = await self._post(row)
            if outcome is not None:
                return outcome
        error = "the outcome is still unknown; run the same file again to resolve it"
        await self._write(self.ledger.mark, row.order_id, "sent", error=error)
        return Outcome(row, "unknown", error=error)

    async def _post(self, row: CreateRow) -> Outcome | None:
        """One POST (the client retries what certainly created nothing); None when its
        outcome is unknown."""
        self.stats.posts += 1
        try:
            link = await self.client.create_link(row.amount_text, row.currency,
                                                 row.description)
        except InvalidRequestError as exc:
            await self._write(self.ledger.mark, row.order_id, "failed", error=str(exc))
            return Outcome(row, "failed", error=str(exc))
        except (RateLimitedError, TransportError) as exc:
            if isinstance(exc, TransportError) and exc.sent:
                log.info("order %s: %s; looking for the link before trying again",
                         row.order_id, exc)
                if exc.timed_out:  # its absence now does not prove it will not appear
                    self._late.add(row.order_id)
                return None
            error = (f"{exc} (retry budget spent); nothing was created: run the file "
                     "again later")
            await self._write(self.ledger.mark, row.order_id, "pending", error=error)
            return Outcome(row, "pending", error=error)
        except (ServerError, MalformedResponseError) as exc:
            log.info("order %s: %s; looking for the link before trying again",
                     row.order_id, exc)
            return None
        return self._created(row, [link], "created")

    def _created(self, row: CreateRow, found: list[dict[str, Any]], state: str) -> Outcome:
        link = min(found, key=lambda item: str(item.get("created_at")))
        error = None
        if len(found) > 1:
            error = ("PIK holds several links for this order: "
                     + ", ".join(str(item.get("id")) for item in found))
        self._answers.append((row.order_id, str(link["id"]), link.get("url"), error))
        if len(self._answers) >= ANSWER_BATCH:
            self._store_answers()
        return Outcome(row, state, str(link["id"]), link.get("url"), error)


def _same(item: Any, row: CreateRow) -> bool:
    if not isinstance(item, dict) or item.get("description") != row.description:
        return False
    try:  # an amount that is not a decimal string (a JSON number is a float) is not ours
        return parse_amount(item.get("amount")) == row.amount and item.get(
            "currency") == row.currency
    except ValueError:
        return False


def output_rows(rows: list[CreateRow], outcomes: dict[str, Outcome], ledger: Ledger
                ) -> list[list[str]]:
    """One line per input row: this run's outcome, or what the ledger knows."""
    known = ledger.rows([r.order_id for r in rows if r.order_id not in outcomes])
    lines = []
    for row in rows:
        outcome = outcomes.get(row.order_id)
        if outcome is None:
            old = known.get(row.order_id)
            state = {"sent": "unknown", None: "not started"}.get(old.state if old else None,
                                                                 old.state if old else "")
            outcome = Outcome(row, state, old.link_id if old else None,
                              old.url if old else None)
        lines.append([row.order_id, outcome.link_id or "", outcome.url or "", row.amount_text,
                      row.currency, outcome.state, outcome.error or ""])
    return lines


def write_output(path: Path, lines: list[list[str]]) -> None:
    """Write to a temporary file in the same folder, then move it into place."""
    ensure_folder(path.parent, f"the output {path}")
    with writing(path, "the output CSV"):
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(OUTPUT_COLUMNS)
                writer.writerows(lines)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


@dataclass(frozen=True)
class CreateReport:
    rows: int
    by_state: dict[str, int]
    posts: int
    resolved_existing: int
    out: Path | None
    dry_run: bool
    proven_absent: int = 0  # lost answers that created nothing, so were sent again


def create_links(config: Config, path: Path, *, out: Path | None, dry_run: bool,
                 concurrency: int, progress: Any = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> CreateReport:
    """Validate the whole file, plan against the ledger, then create what is missing."""
    rows = read_rows(path)
    target = check_file_target(out or path.with_name(f"{path.stem}-links.csv"), "--out")
    api_key = None if dry_run else config.require_api_key()
    with Warehouse.open(config.db_path) as warehouse:
        ledger = Ledger(warehouse, config.account)
        todo, settled = plan(rows, ledger)
        if dry_run:
            by_state = Counter(o.state for o in settled.values())
            by_state["to create"] = len(todo)
            return CreateReport(len(rows), dict(by_state), 0, 0, None, True)
        known = ledger.rows([r.order_id for r in todo])
        ledger.record([(r.order_id, r.amount_text, r.currency, r.description)
                       for r in todo if r.order_id not in known], str(path))
        known = ledger.rows([r.order_id for r in todo])
        stats = BulkStats()
        if progress is not None:
            progress.add_pages(len(todo))
        try:
            assert api_key is not None
            asyncio.run(_create(config, api_key, ledger, todo, known, concurrency, stats,
                                progress, transport))
        finally:
            outcomes = {**settled, **stats.outcomes}
            write_output(target, output_rows(rows, outcomes, ledger))
        by_state = Counter(o.state for o in outcomes.values())
    return CreateReport(len(rows), dict(by_state), stats.posts, stats.resolved_existing,
                        target, False, stats.proven_absent)


async def _create(config: Config, api_key: Secret, ledger: Ledger, todo: list[CreateRow],
                  known: dict[str, LedgerRow], concurrency: int, stats: BulkStats,
                  progress: Any, transport: httpx.AsyncBaseTransport | None) -> None:
    """Outcomes land in `stats` as they happen, so an interruption keeps what was done."""
    async with PikClient(config.pik, api_key, transport=transport) as client:
        creator = BulkCreator(client, ledger, concurrency, stats,
                              progress.advance if progress is not None else lambda: None)
        await creator.run(todo, known)

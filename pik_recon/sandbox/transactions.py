"""The sandbox's transactions: customers' payments on links, listed with PIK's filters.

Every transaction sits in one list per index it can be filtered by (every transaction, per
status, per currency, per currency and status), each in the list order, so a page of any of
them costs the same at a million transactions as at ten. `from`/`to` are a range of the
creation order, found by bisection.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sortedcontainers import SortedKeyList

from pik_recon.money import currency_decimals
from pik_recon.sandbox.state import ORDERINGS, iso, random_amount, random_description

if TYPE_CHECKING:
    from pik_recon.sandbox.state import Link, SandboxState

TX_STATUSES = ("pending", "confirmed", "settled", "failed")
PAID_MONEY = ("confirmed", "settled")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
SEQ_BITS = 32  # a rank is created_at in microseconds, then the order of arrival
EVM_ASSETS = ("ETH", "USDT", "USDC", "BNB", "DAI")

_rank = attrgetter("rank")
_id = attrgetter("id")


def micros(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def tx_places(currency: str, amount: str = "0") -> int:
    """Decimals a transaction amount is written with: 2 for stablecoins, the asset's own
    otherwise, never fewer than the link's amount has (so an exact payment stays exact)."""
    places = 2 if currency in ("USDT", "USDC") else currency_decimals(currency)
    exponent = Decimal(amount).as_tuple().exponent
    return max(places, -exponent if isinstance(exponent, int) else 0)


def written(value: Decimal, places: int) -> str:
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


@dataclass(slots=True, eq=False)
class Transaction:
    """One payment attempt on a link as the sandbox stores it."""

    id: str
    payment_link_id: str
    amount: str
    currency: str
    status: str
    created_at: datetime
    rank: int = 0
    tx_hash: str | None = None
    confirmed_at: datetime | None = None
    settled_at: datetime | None = None
    settles: bool = True  # False: confirmed money that is never settled
    raw: dict[str, Any] | None = None
    _json: bytes | None = None

    def as_dict(self) -> dict[str, Any]:
        """The transaction as PIK serves it; `tx_hash` only once it is on a chain."""
        if self.raw is not None:
            return self.raw
        body: dict[str, Any] = {"id": self.id, "payment_link_id": self.payment_link_id,
                                "amount": self.amount, "currency": self.currency,
                                "status": self.status}
        if self.tx_hash is not None:
            body["tx_hash"] = self.tx_hash
        body["created_at"] = iso(self.created_at)
        body["confirmed_at"] = iso(self.confirmed_at) if self.confirmed_at else None
        body["settled_at"] = iso(self.settled_at) if self.settled_at else None
        return body

    def json_bytes(self) -> bytes:
        if self._json is None:
            self._json = json.dumps(self.as_dict(), ensure_ascii=False).encode()
        return self._json


@dataclass
class TransactionSettings:
    """The transactions' switches, set at start or through /_admin/config by name."""

    tx_drift_per_request: float | None = None  # None: the links' drift_per_request
    tx_drift_new_ratio: float = 0.4
    tx_ordering: str | None = None  # None: the links' ordering
    hidden_transactions: int = 0
    settle_delay_seconds: float = 3600.0


@dataclass(frozen=True)
class TxQuery:
    """The filters of GET /transactions; `start`/`end` bound created_at in microseconds,
    both inclusive."""

    status: str | None = None
    payment_link_id: str | None = None
    currency: str | None = None
    start: int | None = None
    end: int | None = None

    def matches(self, txn: Transaction) -> bool:
        created = txn.rank >> SEQ_BITS
        return ((self.status is None or txn.status == self.status)
                and (self.payment_link_id is None or txn.payment_link_id == self.payment_link_id)
                and (self.currency is None or txn.currency == self.currency)
                and (self.start is None or created >= self.start)
                and (self.end is None or created <= self.end))


def _index_keys(txn: Transaction) -> tuple[tuple[str | None, str | None], ...]:
    return ((None, None), (None, txn.status), (txn.currency, None), (txn.currency, txn.status))


class TransactionBook:
    """Every transaction of the sandbox, its indexes, settlement and drift."""

    def __init__(self, state: SandboxState, seed: int) -> None:
        self.state = state
        self.settings = TransactionSettings()
        self.rng = random.Random(f"transactions-{seed}")  # its own: the links' draws stay put
        self.by_id: dict[str, Transaction] = {}
        self.by_link: dict[str, list[Transaction]] = {}
        self.listeners: list[Callable[[Transaction], None]] = []
        self.cases: dict[str, list[str]] = {}  # generated links per planted case
        self.served_lists = 0
        self.served_single = 0
        self.drift_changes = 0
        self._hidden: set[str] = set()
        self._seq = 0
        self._settle_heap: list[tuple[float, int, str]] = []
        self._drift_due = 0.0
        self._ordering = ""
        self._lists: dict[tuple[str | None, str | None], SortedKeyList] = {}
        self._by_time = SortedKeyList(key=_rank)
        self._rebuild()

    # --- indexes -----------------------------------------------------------------------
    @property
    def ordering(self) -> str:
        return self.settings.tx_ordering or self.state.faults.ordering

    def _rebuild(self) -> None:
        ordering = self.ordering
        key = _id if ordering == "id" else _rank
        shown = [t for t in self.by_id.values() if t.id not in self._hidden]
        self._by_time = SortedKeyList(shown, key=_rank)
        groups: dict[tuple[str | None, str | None], list[Transaction]] = {}
        for txn in shown:
            for index in _index_keys(txn)[1:]:
                groups.setdefault(index, []).append(txn)
        self._lists = {index: SortedKeyList(items, key=key) for index, items in groups.items()}
        self._lists[(None, None)] = (SortedKeyList(shown, key=key) if ordering == "id"
                                     else self._by_time)
        self._ordering = ordering

    def _follow_ordering(self) -> None:
        if self._ordering != self.ordering:
            self._rebuild()

    def _list(self, index: tuple[str | None, str | None]) -> SortedKeyList:
        found = self._lists.get(index)
        if found is None:
            found = self._lists[index] = SortedKeyList(
                key=_id if self._ordering == "id" else _rank)
        return found

    def _index(self, txn: Transaction) -> None:
        for index in _index_keys(txn):
            self._list(index).add(txn)
        if self._ordering == "id":
            self._by_time.add(txn)

    def _unindex(self, txn: Transaction) -> None:
        for index in _index_keys(txn):
            self._lists[index].remove(txn)
        if self._ordering == "id":
            self._by_time.remove(txn)

    def set_hidden(self, count: int) -> None:
        """Leave `count` transactions (chosen at random) out of every list page while every
        `total` still counts them."""
        if count < len(self._hidden):
            self._hidden.clear()
            self._rebuild()
        shown = [t for t in self.by_id.values() if t.id not in self._hidden]
        for txn in self.rng.sample(shown, min(count - len(self._hidden), len(shown))):
            self._unindex(txn)
            self._hidden.add(txn.id)
        self.settings.hidden_transactions = len(self._hidden)

    # --- adding ------------------------------------------------------------------------
    def _stamp(self, txn: Transaction) -> None:
        txn.rank = micros(txn.created_at) << SEQ_BITS | self._seq
        self._seq += 1
        self.by_id[txn.id] = txn
        self.by_link.setdefault(txn.payment_link_id, []).append(txn)
        if txn.status == "confirmed" and txn.settles and txn.confirmed_at is not None:
            due = txn.confirmed_at + timedelta(seconds=self.settings.settle_delay_seconds)
            heapq.heappush(self._settle_heap, (due.timestamp(), txn.rank, txn.id))

    def add(self, txn: Transaction) -> Transaction:
        """Store a transaction as it is (no events, no effect on its link)."""
        self._follow_ordering()
        self._stamp(txn)
        self._index(txn)
        return txn

    def add_many(self, txns: Iterable[Transaction]) -> int:
        """Store many transactions at once: one sort, then each list takes its share in
        order (a merge instead of an insert each)."""
        self._follow_ordering()
        fresh = list(txns)
        for txn in fresh:
            self._stamp(txn)
        fresh.sort(key=_id if self._ordering == "id" else _rank)
        groups: dict[tuple[str | None, str | None], list[Transaction]] = {}
        for txn in fresh:
            for index in _index_keys(txn):
                groups.setdefault(index, []).append(txn)
        for index, items in groups.items():
            self._list(index).update(items)
        if self._ordering == "id":
            self._by_time.update(fresh)
        return len(fresh)

    def new_id(self) -> str:
        return f"txn_{self.rng.getrandbits(96):024x}"

    def new_hash(self, currency: str) -> str:
        digest = f"{self.rng.getrandbits(256):064x}"
        return "0x" + digest if currency in EVM_ASSETS else digest

    def inject_raw(self, raw: dict[str, Any], status: str = "settled") -> Transaction:
        """Store a record served verbatim (for malformed-data tests), listed under `status`
        and under its currency and link when those are strings."""
        currency, link_id = raw.get("currency"), raw.get("payment_link_id")
        txn = Transaction(id=str(raw.get("id", f"raw_{self._seq}")),
                          payment_link_id=link_id if isinstance(link_id, str) else "",
                          amount="0", currency=currency if isinstance(currency, str) else "",
                          status=status, created_at=self.state.now(), raw=raw)
        return self.add(txn)

    # --- what happens to a transaction -------------------------------------------------
    def open(self, link_id: str, amount: str, currency: str) -> Transaction:
        """A customer starts paying: a pending transaction created now."""
        return self.add(Transaction(id=self.new_id(), payment_link_id=link_id, amount=amount,
                                    currency=currency, status="pending",
                                    created_at=self.state.now()))

    def _move(self, txn: Transaction, status: str) -> None:
        hidden = txn.id in self._hidden
        if not hidden:
            self._follow_ordering()
            self._unindex(txn)
        txn.status = status
        txn._json = None
        if not hidden:
            self._index(txn)

    def confirm(self, txn: Transaction) -> None:
        """On the chain: a hash, the settlement scheduled, the link paid if now covered."""
        self._require(txn, "pending", "confirm")
        txn.confirmed_at = self.state.now()
        txn.tx_hash = txn.tx_hash or self.new_hash(txn.currency)
        self._move(txn, "confirmed")
        if txn.settles:
            due = txn.confirmed_at + timedelta(seconds=self.settings.settle_delay_seconds)
            heapq.heappush(self._settle_heap, (due.timestamp(), txn.rank, txn.id))
        self._cover(txn)
        self._emit(txn)

    def settle(self, txn: Transaction, at: datetime | None = None) -> None:
        self._require(txn, "confirmed", "settle")
        txn.settled_at = at or self.state.now()
        self._move(txn, "settled")
        self._emit(txn)

    def fail(self, txn: Transaction) -> None:
        self._require(txn, "pending", "fail")
        self._move(txn, "failed")
        self._emit(txn)

    def lose(self, txn: Transaction) -> None:
        """PIK forgets a transaction: gone from every list and total, a 404 by id (PIK does
        not promise never to)."""
        if txn.id in self._hidden:
            self._hidden.discard(txn.id)
            self.settings.hidden_transactions = len(self._hidden)
        else:
            self._follow_ordering()
            self._unindex(txn)
        del self.by_id[txn.id]
        self.by_link[txn.payment_link_id].remove(txn)

    @staticmethod
    def _require(txn: Transaction, status: str, action: str) -> None:
        if txn.raw is not None or txn.status != status:
            raise ValueError(f"cannot {action} a transaction that is {txn.status}"
                             + (" (an injected record)" if txn.raw is not None else ""))

    def _cover(self, txn: Transaction) -> None:
        """An active link turns paid once its confirmed money covers its amount."""
        link = self.state.links.get(txn.payment_link_id)
        if link is None or link.raw is not None or link.status != "active":
            return
        paid = sum((Decimal(t.amount) for t in self.by_link[link.id]
                    if t.raw is None and t.status in PAID_MONEY and t.currency == link.currency),
                   Decimal(0))
        if paid >= Decimal(link.amount):
            self.state.set_status(link, "paid")
            link.paid_at = txn.confirmed_at

    def _emit(self, txn: Transaction) -> None:
        for listener in self.listeners:
            listener(txn)

    def pay(self, link: Link) -> Transaction | None:
        """The customer pays the link's amount in full: confirmed at once, the link paid.
        An injected record has no amount to pay: it is only marked paid."""
        if link.raw is not None:
            self.state.set_status(link, "paid")
            return None
        txn = self.open(link.id, written(Decimal(link.amount),
                                         tx_places(link.currency, link.amount)), link.currency)
        self.confirm(txn)
        return txn

    def settle_due(self) -> int:
        """Settle what the clock says is due, each at its due time; returns how many."""
        now = self.state.now().timestamp()
        settled = 0
        while self._settle_heap and self._settle_heap[0][0] <= now:
            due, _, txn_id = heapq.heappop(self._settle_heap)
            txn = self.by_id.get(txn_id)
            if txn is not None and txn.status == "confirmed" and txn.raw is None:
                self.settle(txn, datetime.fromtimestamp(due, UTC))
                settled += 1
        return settled

    # --- drift -------------------------------------------------------------------------
    def drift_before_list(self) -> None:
        """Changes before a list request, at the transactions' own rate or the links'."""
        rate = self.settings.tx_drift_per_request
        self._drift_due += self.state.faults.drift_per_request if rate is None else rate
        changes = int(self._drift_due + 1e-9)
        self._drift_due -= changes
        self.drift(changes)

    def drift(self, changes: int) -> None:
        """Customers start paying, and open transactions move on a step, as on a live
        account between two requests."""
        for _ in range(max(changes, 0)):
            self.drift_changes += 1
            if self.rng.random() < self.settings.tx_drift_new_ratio or not self._step_one():
                self._new_attempt()

    def _step_one(self) -> bool:
        pending, confirmed = self._list((None, "pending")), self._list((None, "confirmed"))
        if not len(pending) + len(confirmed):
            return False
        pick = self.rng.randrange(len(pending) + len(confirmed))
        txn = pending[pick] if pick < len(pending) else confirmed[pick - len(pending)]
        if txn.raw is not None or (txn.status == "confirmed" and not txn.settles):
            return False
        if txn.status == "confirmed":
            self.settle(txn)
        elif self.rng.random() < 0.85:
            self.confirm(txn)
        else:
            self.fail(txn)
        return True

    def _new_attempt(self) -> None:
        link = (self.state.random_link("active", self.rng)
                or self.state.random_link(None, self.rng))
        if link is None or link.raw is not None:
            amount, currency = random_amount(self.state.rng)
            link = self.state.create(amount, currency, random_description(self.state.rng))
        draw = self.rng.random()
        value = Decimal(link.amount)
        if draw < 0.05:
            value = short_of(value, tx_places(link.currency, link.amount), self.rng) or value
        elif draw < 0.10:
            value = over_of(value, tx_places(link.currency, link.amount), self.rng)
        self.open(link.id, written(value, tx_places(link.currency, link.amount)), link.currency)

    # --- reading -----------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        hidden = [self.by_id[i].status for i in self._hidden]
        return {s: len(self._list((None, s))) + hidden.count(s) for s in TX_STATUSES}

    def page(self, query: TxQuery, offset: int, limit: int) -> tuple[list[Transaction], int]:
        """A page of the filtered list in the list order, and the filtered `total`, which
        counts hidden transactions too."""
        self._follow_ordering()
        if query.payment_link_id is not None:
            return self._page_of_link(query, offset, limit)
        hidden = sum(1 for i in self._hidden if query.matches(self.by_id[i]))
        bounded = query.start is not None or query.end is not None
        if bounded and self._ordering == "id":
            low, high = self._bounds(self._by_time, query)
            found = [t for t in self._by_time.islice(low, high) if query.matches(t)]
            found.sort(key=_id)
            return found[offset:offset + limit], len(found) + hidden
        items = self._lists.get((query.currency, query.status))
        if items is None:
            return [], hidden
        low, high = self._bounds(items, query) if bounded else (0, len(items))
        return self._slice(items, low, high, offset, limit), high - low + hidden

    @staticmethod
    def _bounds(items: SortedKeyList, query: TxQuery) -> tuple[int, int]:
        low = 0 if query.start is None else items.bisect_key_left(query.start << SEQ_BITS)
        high = (len(items) if query.end is None
                else items.bisect_key_left((query.end + 1) << SEQ_BITS))
        return low, max(low, high)

    def _slice(self, items: SortedKeyList, low: int, high: int, offset: int, limit: int
               ) -> list[Transaction]:
        size = high - low
        if offset >= size:
            return []
        if self._ordering == "newest":
            return list(items.islice(max(low, high - offset - limit), high - offset,
                                     reverse=True))
        if self._ordering == "shuffled":
            stride, start = self._coprime_stride(size), self.rng.randrange(size)
            return [items[low + (start + i * stride) % size]
                    for i in range(offset, min(offset + limit, size))]
        if self._ordering == "rotated":  # newest first from any transaction
            start = self.rng.randrange(size)
            return [items[high - 1 - (start + i) % size]
                    for i in range(offset, min(offset + limit, size))]
        return list(items.islice(low + offset, min(low + offset + limit, high)))

    def _page_of_link(self, query: TxQuery, offset: int, limit: int
                      ) -> tuple[list[Transaction], int]:
        found = [t for t in self.by_link.get(query.payment_link_id or "", ()) if query.matches(t)]
        shown = [t for t in found if t.id not in self._hidden]
        if self._ordering == "shuffled":
            self.rng.shuffle(shown)
        else:
            shown.sort(key=_id if self._ordering == "id" else _rank,
                       reverse=self._ordering in ("newest", "rotated"))
        if self._ordering == "rotated" and shown:
            start = self.rng.randrange(len(shown))
            shown = shown[start:] + shown[:start]
        return shown[offset:offset + limit], len(found)

    def _coprime_stride(self, n: int) -> int:
        while True:
            stride = self.rng.randrange(1, max(n, 2))
            if math.gcd(stride, n) == 1:
                return stride


def short_of(value: Decimal, places: int, rng: random.Random) -> Decimal | None:
    """A part of `value` (a third to all but one unit), or None when it is one unit."""
    units = int((value.scaleb(places)).to_integral_value(ROUND_FLOOR))
    if units < 2:
        return None
    return Decimal(rng.randrange(max(1, units // 3), units)).scaleb(-places)


def over_of(value: Decimal, places: int, rng: random.Random) -> Decimal:
    """More than `value`: by one unit up to a fifth more."""
    units = int((value.scaleb(places)).to_integral_value(ROUND_FLOOR))
    return Decimal(units + rng.randrange(1, max(2, units // 5 + 1))).scaleb(-places)


def check_ordering(value: str | None) -> None:
    if value is not None and value not in ORDERINGS:
        raise ValueError(f"'tx_ordering' must be one of {', '.join(ORDERINGS)}, or null")

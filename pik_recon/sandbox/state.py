"""The sandbox's state: links per status in a chosen order, a clock, drift and faults."""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sortedcontainers import SortedKeyList

from pik_recon.money import PIK_CURRENCIES

STATUSES = ("active", "paid", "expired", "deactivated")
ORDERINGS = ("newest", "oldest", "id", "shuffled", "rotated")
FAULT_KINDS = ("latency", "429", "429_no_retry_after", "500_html", "drop", "lost_response")
SUPPORTED_CURRENCIES = PIK_CURRENCIES
URL_BASE = "https://pay.pik.global/l/"
MAX_CLOCK_OFFSET = 10 * 366 * 86_400  # ten years either way: PIK's clock stays a valid time


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as PIK writes it."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def clock_offset(value: Any) -> float:
    """A clock offset in seconds, or ValueError saying what is accepted."""
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or abs(value) > MAX_CLOCK_OFFSET):
        raise ValueError(f"the clock offset must be a number of seconds within "
                         f"±{MAX_CLOCK_OFFSET} (negative: PIK's clock behind ours), not "
                         f"{value!r}")
    return float(value)


@dataclass(slots=True, eq=False)
class Link:
    """One payment link as the sandbox stores it."""

    id: str
    amount: str
    currency: str
    description: str | None
    status: str
    created_at: datetime
    seq: int
    paid_at: datetime | None = None
    expires_at: datetime | None = None
    raw: dict[str, Any] | None = None
    _json: bytes | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.raw is not None:
            return self.raw
        body: dict[str, Any] = {
            "id": self.id,
            "url": URL_BASE + self.id,
            "amount": self.amount,
            "currency": self.currency,
            "description": self.description,
            "status": self.status,
            "created_at": iso(self.created_at),
        }
        if self.paid_at is not None:
            body["paid_at"] = iso(self.paid_at)
        return body

    def json_bytes(self) -> bytes:
        if self._json is None:
            self._json = json.dumps(self.as_dict(), ensure_ascii=False).encode()
        return self._json


@dataclass
class Faults:
    """What the network does wrong, switchable at run time."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    latency_ms: int = 0
    fault_latency_ms: int = 300
    retry_after_seconds: int = 1  # of the `429` fault; PIK may ask for a day
    drift_per_request: float = 0.0  # changes before every list request, for as long as it runs
    drift_new_ratio: float = 0.5
    hidden_links: int = 0  # links left out of every list page, yet counted in `total`
    rate_limit_enabled: bool = True
    rate_limit_per_minute: int = 300
    create_rate_limit_per_minute: int = 60
    ordering: str = "newest"
    clock_offset_seconds: float = 0.0  # PIK's clock ahead of ours (negative: behind)
    whole_seconds: bool = False  # PIK's clock in whole seconds; links stamped alike listed
    # in a different order among themselves on every page


_ORDER_KEYS = {
    "newest": lambda link: (-link.created_at.timestamp(), -link.seq),
    "oldest": lambda link: (link.created_at.timestamp(), link.seq),
    "id": lambda link: link.id,
    "shuffled": lambda link: (-link.created_at.timestamp(), -link.seq),
    "rotated": lambda link: (-link.created_at.timestamp(), -link.seq),
}


@dataclass
class RequestLog:
    """What the sandbox was asked, for tests and benchmarks."""

    counts: Counter[str] = field(default_factory=Counter)
    posts: list[dict[str, Any]] = field(default_factory=list)
    limited_429: int = 0
    drift_changes: int = 0
    list_requests: int = 0  # list pages served (answered with 200)
    link_requests: int = 0  # single links served (200 or 404)
    refused_keys: int = 0  # requests refused with 401: a missing or another key
    fault_counts: Counter[str] = field(default_factory=Counter)


class SandboxState:
    """All links, their order per status, the clock, and the fault switches."""

    def __init__(self, *, api_key: str = "sk_sandbox_demo", seed: int = 0,
                 faults: Faults | None = None) -> None:
        self.api_key = api_key
        self.faults = faults or Faults()
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.links: dict[str, Link] = {}
        self.uncounted: dict[str, Link] = {}  # in no list or total, yet found by id
        self._seq = 0
        self._clock_offset = timedelta()
        self._expiry_heap: list[tuple[float, int, str]] = []
        self._windows: dict[str, deque[float]] = {"general": deque(), "create": deque()}
        self.log = RequestLog()
        self._drift_due = 0.0
        self._hidden: set[str] = set()
        self._by_status: dict[str, SortedKeyList] = {}
        self._all = SortedKeyList()
        self._rebuild_order()
        # imported here: both modules build on this one
        from pik_recon.sandbox.delivery import WebhookHub
        from pik_recon.sandbox.transactions import TransactionBook
        self.transactions = TransactionBook(self, seed)
        self.webhooks = WebhookHub(self, seed)

    # --- clock -------------------------------------------------------------------------
    def now(self) -> datetime:
        """PIK's clock: ours moved by the offset switch and by the time advanced."""
        moment = (datetime.now(UTC) + self._clock_offset
                  + timedelta(seconds=self.faults.clock_offset_seconds))
        return moment.replace(microsecond=0) if self.faults.whole_seconds else moment

    def advance_clock(self, seconds: float) -> int:
        """Move the sandbox clock forward; links whose time is up expire. Returns how many."""
        with self.lock:
            self._clock_offset += timedelta(seconds=seconds)
            return self.expire_due()

    def expire_due(self) -> int:
        now = self.now().timestamp()
        expired = 0
        while self._expiry_heap and self._expiry_heap[0][0] <= now:
            _, _, link_id = heapq.heappop(self._expiry_heap)
            link = self.links.get(link_id)
            if link is not None and link.status == "active":
                self.set_status(link, "expired")
                expired += 1
        return expired

    # --- ordering ----------------------------------------------------------------------
    def _rebuild_order(self) -> None:
        key = _ORDER_KEYS[self.faults.ordering]
        self._by_status = {s: SortedKeyList(key=key) for s in STATUSES}
        self._by_status["_other"] = SortedKeyList(key=key)
        self._all = SortedKeyList(key=key)
        for link in self.links.values():
            if link.id not in self._hidden:
                self._list_for(link.status).add(link)
                self._all.add(link)

    def set_ordering(self, ordering: str) -> None:
        if ordering not in ORDERINGS:
            raise ValueError(f"ordering must be one of {', '.join(ORDERINGS)}")
        with self.lock:
            self.faults.ordering = ordering
            self._rebuild_order()

    def _list_for(self, status: str) -> SortedKeyList:
        return self._by_status.get(status, self._by_status["_other"])

    def set_hidden(self, count: int) -> None:
        """Leave `count` links (chosen at random) out of every list page while `total` still
        counts them: a broken PIK that a sound completeness proof must catch."""
        if count < len(self._hidden):
            self._hidden.clear()
            self._rebuild_order()
        shown = [link for link in self.links.values() if link.id not in self._hidden]
        for link in self.rng.sample(shown, min(count - len(self._hidden), len(shown))):
            self._hidden.add(link.id)
            self._list_for(link.status).remove(link)
            self._all.remove(link)
        self.faults.hidden_links = len(self._hidden)

    # --- mutation ----------------------------------------------------------------------
    def add(self, link: Link) -> Link:
        link.seq = self._seq
        self._seq += 1
        self.links[link.id] = link
        self._list_for(link.status).add(link)
        self._all.add(link)
        if link.status == "active" and link.expires_at is not None:
            heapq.heappush(self._expiry_heap, (link.expires_at.timestamp(), link.seq, link.id))
        return link

    def remove(self, link: Link, by_id: bool = False) -> None:
        """Forget a link, which PIK does not promise never to do: it is in no list, no
        total, and a fetch by id is a 404. `by_id`: a broken PIK that still answers for it
        by id."""
        del self.links[link.id]
        if by_id:
            self.uncounted[link.id] = link
        if link.id in self._hidden:
            self._hidden.discard(link.id)
            self.faults.hidden_links = len(self._hidden)
            return
        self._list_for(link.status).remove(link)
        self._all.remove(link)

    def set_status(self, link: Link, status: str) -> None:
        if link.status == status:
            return
        hidden = link.id in self._hidden
        if not hidden:
            self._list_for(link.status).remove(link)
        link.status = status
        link.paid_at = self.now() if status == "paid" else None
        link._json = None
        if not hidden:
            self._list_for(status).add(link)

    def finish(self, link: Link, status: str) -> None:
        """An active link turns final; paid means its customer paid it in full."""
        if status == "paid":
            self.transactions.pay(link)
        else:
            self.set_status(link, status)

    def random_link(self, status: str | None, rng: random.Random) -> Link | None:
        """A listed link of that status (of any when None), or None when there is none."""
        items = self._all if status is None else self._by_status[status]
        return items[rng.randrange(len(items))] if len(items) else None

    def new_id(self) -> str:
        return "pl_" + "".join(self.rng.choices("0123456789abcdefghijklmnopqrstuvwxyz", k=20))

    def create(self, amount: str, currency: str, description: str | None,
               expires_in: timedelta | None = timedelta(days=3)) -> Link:
        now = self.now()
        link = Link(id=self.new_id(), amount=amount, currency=currency,
                    description=description, status="active", created_at=now, seq=0,
                    expires_at=now + expires_in if expires_in else None)
        return self.add(link)

    def inject_raw(self, raw: dict[str, Any], status: str = "paid") -> Link:
        """Store a record served verbatim (for malformed-data tests)."""
        created = self.now()
        link = Link(id=str(raw.get("id", f"raw_{self._seq}")), amount="0", currency="X",
                    description=None, status=status, created_at=created, seq=0, raw=raw)
        return self.add(link)

    def drift_before_list(self) -> None:
        """`drift_per_request` changes before a list request (a rate below one is carried
        over: 0.1 is one change every tenth request). It never stops while the rate is set."""
        self._drift_due += self.faults.drift_per_request
        changes = int(self._drift_due + 1e-9)  # ten times 0.1 is one change, not 0.999...
        self._drift_due -= changes
        self.drift(changes)

    def drift(self, changes: int) -> None:
        """Links change status and new ones appear, as between two page requests."""
        active = self._by_status["active"]
        self.log.drift_changes += max(changes, 0)
        for _ in range(changes):
            if self.rng.random() < self.faults.drift_new_ratio or len(active) == 0:
                self.create(*random_amount(self.rng), description=random_description(self.rng))
            else:
                link = active[self.rng.randrange(len(active))]
                self.finish(link, self.rng.choice(("paid", "paid", "expired", "deactivated")))

    def simulate_day(self, new: int, changes: int, old_ratio: float = 0.1,
                     advance: bool = True, anywhere: bool = False) -> dict[str, int]:
        """A day of business: the clock moves a day (links expire), `new` links appear
        during it, and `changes` active links turn paid, expired or deactivated: most of
        them created in the last three days, `old_ratio` of them more than a month ago.
        `anywhere`: links that never expire, the changes among active links of any age."""
        if advance:
            self._clock_offset += timedelta(days=1)
        expired = self.expire_due()
        now = self.now()
        for _ in range(new):
            amount, currency = random_amount(self.rng)
            created = now - timedelta(seconds=self.rng.uniform(0, 86_400))
            self.add(Link(id=self.new_id(), amount=amount, currency=currency,
                          description=random_description(self.rng), status="active",
                          created_at=created, seq=0,
                          expires_at=None if anywhere else created + timedelta(days=3)))
        active = list(self._by_status["active"])
        month_ago, recent = now - timedelta(days=30), now - timedelta(days=3)
        old = [link for link in active if link.created_at < month_ago]
        young = [link for link in active if link.created_at >= recent]
        n_old = min(len(old), round(changes * old_ratio))
        if anywhere:
            old, n_old = active, min(len(active), changes)
        chosen = self.rng.sample(old, n_old) + self.rng.sample(
            young, min(len(young), changes - n_old))
        for link in chosen:
            self.finish(link, self.rng.choice(("paid", "paid", "paid", "expired",
                                               "deactivated")))
        return {"expired": expired, "new": new, "changed": len(chosen),
                "old": sum(link.created_at < month_ago for link in chosen)}

    # --- reading -----------------------------------------------------------------------
    def count(self, status: str | None) -> int:
        if status is None:
            return len(self.links)
        return len(self._by_status[status]) + sum(
            1 for link_id in self._hidden if self.links[link_id].status == status)

    def page(self, status: str | None, offset: int, limit: int) -> tuple[list[Link], int]:
        """A page of the list (every link when status is None) and its `total`, which counts
        hidden links too."""
        items = self._all if status is None else self._by_status[status]
        total = self.count(status)
        shown = len(items)
        if self.faults.ordering == "shuffled" and shown:
            stride = self._coprime_stride(shown)
            start = self.rng.randrange(shown)
            idx = range(offset, min(offset + limit, shown))
            return [items[(start + i * stride) % shown] for i in idx], total
        if self.faults.ordering == "rotated" and shown:  # newest first from any link
            start = self.rng.randrange(shown)
            idx = range(offset, min(offset + limit, shown))
            return self._ties_stirred([items[(start + i) % shown] for i in idx]), total
        return self._ties_stirred(list(items.islice(offset, offset + limit))), total

    def _ties_stirred(self, links: list[Link]) -> list[Link]:
        """With whole seconds, the links of a page stamped alike in a new order among
        themselves (a list sorted by time alone, as a database may give it)."""
        if not self.faults.whole_seconds:
            return links
        stirred: list[Link] = []
        for _, group in itertools.groupby(links, key=lambda link: link.created_at):
            tied = list(group)
            self.rng.shuffle(tied)
            stirred += tied
        return stirred

    def _coprime_stride(self, n: int) -> int:
        while True:
            stride = self.rng.randrange(1, max(n, 2))
            if math.gcd(stride, n) == 1:
                return stride

    def counts(self) -> dict[str, int]:
        return {s: self.count(s) for s in STATUSES}

    # --- rate limiting -----------------------------------------------------------------
    def take_rate_slot(self, bucket: str) -> float | None:
        """Record a request in its rolling window; return seconds to wait if over the limit."""
        if not self.faults.rate_limit_enabled:
            return None
        limit = (self.faults.create_rate_limit_per_minute if bucket == "create"
                 else self.faults.rate_limit_per_minute)
        window = self._windows[bucket]
        now = time.monotonic()
        while window and window[0] <= now - 60.0:
            window.popleft()
        if len(window) >= limit:
            return window[0] + 60.0 - now
        window.append(now)
        return None


def random_amount(rng: random.Random) -> tuple[str, str]:
    """A realistic (amount, currency): 2-decimal fiat-like stablecoin prices, 8 for BTC..."""
    currency = rng.choices(("USDT", "USDC", "BTC", "ETH", "LTC", "TRX", "SOL"),
                           weights=(45, 12, 15, 15, 5, 4, 4))[0]
    if currency in ("USDT", "USDC"):
        cents = rng.choice((rng.randrange(100, 50_000_00), rng.randrange(100, 200_00)))
        text = str(Decimal(cents).scaleb(-2))
        if rng.random() < 0.15:
            text = str(cents // 100)
        return text, currency
    if currency == "BTC":
        return str(Decimal(rng.randrange(1_000, 50_000_000)).scaleb(-8)), currency
    if currency == "ETH":
        wei = rng.randrange(10**13, 5 * 10**18)
        if rng.random() < 0.05:
            wei = rng.randrange(1, 1000)
        return _plain(Decimal(wei).scaleb(-18)), currency
    if currency == "SOL":
        return _plain(Decimal(rng.randrange(10**6, 10**11)).scaleb(-9)), currency
    if currency == "TRX":
        return _plain(Decimal(rng.randrange(10**6, 10**10)).scaleb(-6)), currency
    return _plain(Decimal(rng.randrange(10**5, 10**10)).scaleb(-8)), currency


def _plain(value: Decimal) -> str:
    return format(value, "f")


_DESCRIPTIONS = (
    "Order #{n}", "Order #{n}", "Order #{n}", "Invoice INV-2026-{n:05d}",
    "Café crème ×{k} — order {n}", "Подписка на {k} мес.", "注文 {n}", "Top-up {n} 🚀",
    'Order "{n}" (gift)', "Renewal, plan {k}; ref {n}",
)


def random_description(rng: random.Random) -> str | None:
    if rng.random() < 0.03:
        return None
    return rng.choice(_DESCRIPTIONS).format(n=rng.randrange(1, 10_000_000), k=rng.randrange(1, 13))


def generate_links(state: SandboxState, count: int, *, days: int = 180,
                   active_share: float | None = None) -> None:
    """Seed `count` links created over the past `days`, with statuses fitting their age
    (most links expire three days after creation). `active_share`: instead, that share of
    the links active and never expiring, of any age, the rest paid, expired or deactivated."""
    rng = state.rng
    now = state.now()
    if active_share is not None:
        _generate_long_lived(state, count, days, active_share)
        return
    for _ in range(count):
        age = timedelta(seconds=rng.uniform(0, days * 86_400))
        created = now - age
        long_lived = rng.random() < 0.03
        # young links are mostly still active; none expires within the next hour
        if age < timedelta(days=3, hours=-1) or (long_lived and rng.random() < 0.5):
            status = rng.choices(STATUSES, weights=(70, 25, 0, 5))[0]
        else:
            status = rng.choices(STATUSES, weights=(1, 76, 18, 5))[0]
        amount, currency = random_amount(rng)
        link = Link(id=state.new_id(), amount=amount, currency=currency,
                    description=random_description(rng), status=status, created_at=created,
                    seq=0)
        if status == "paid":
            link.paid_at = created + timedelta(seconds=rng.uniform(30, 86_400))
            link.paid_at = min(link.paid_at, now)
        if status == "active" and not long_lived:
            link.expires_at = created + timedelta(days=3)
        state.add(link)


def _generate_long_lived(state: SandboxState, count: int, days: int, active_share: float
                         ) -> None:
    rng, now = state.rng, state.now()
    for _ in range(count):
        created = now - timedelta(seconds=rng.uniform(0, days * 86_400))
        status = "active" if rng.random() < active_share else rng.choice(
            ("paid", "paid", "expired", "deactivated"))
        amount, currency = random_amount(rng)
        state.add(Link(id=state.new_id(), amount=amount, currency=currency,
                       description=random_description(rng), status=status, created_at=created,
                       seq=0, paid_at=created + timedelta(minutes=5) if status == "paid" else None))


def load_links(state: SandboxState, records: list[dict[str, Any]]) -> None:
    """Seed links from records in the API's own shape (e.g. sample_data/links.jsonl)."""
    for rec in records:
        created = datetime.fromisoformat(rec["created_at"].replace("Z", "+00:00"))
        paid = rec.get("paid_at")
        expires = rec.get("expires_at")
        link = Link(id=rec["id"], amount=rec["amount"], currency=rec["currency"],
                    description=rec.get("description"), status=rec["status"],
                    created_at=created, seq=0,
                    paid_at=datetime.fromisoformat(paid.replace("Z", "+00:00")) if paid else None,
                    expires_at=(datetime.fromisoformat(expires.replace("Z", "+00:00"))
                                if expires else None))
        state.add(link)

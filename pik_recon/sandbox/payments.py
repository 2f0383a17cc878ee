"""Transactions for the sandbox's links: a realistic mix, volume for load, seed records.

Each link gets one case by its status (`MIX_CASES`); a paid link's base case is one exact
payment, the other statuses' is none. The cases planted are kept (`TransactionBook.cases`)
as the generated data's own ground truth.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import accumulate
from typing import Any

from pik_recon.sandbox.state import Link, SandboxState, random_amount
from pik_recon.sandbox.transactions import (
    TX_STATUSES,
    Transaction,
    TransactionBook,
    over_of,
    short_of,
    tx_places,
    written,
)

# case -> the link statuses it lands on ("unknown_link": a share of all links, each one
# transaction on a link PIK does not have)
MIX_CASES: dict[str, tuple[str, ...]] = {
    "over": ("paid",), "split": ("paid",), "twice": ("paid",), "failed_then_paid": ("paid",),
    "unsettled": ("paid",), "no_transaction": ("paid",), "pending": ("active",),
    "short": ("active", "expired"), "failed": ("active", "expired", "deactivated"),
    "late": ("expired", "deactivated"), "unknown_link": (),
}
BASE_CASE = {"paid": "exact", "active": "none", "expired": "none", "deactivated": "none"}
DEFAULT_MIX = {
    "over": 0.03, "split": 0.02, "twice": 0.03, "failed_then_paid": 0.04, "unsettled": 0.03,
    "no_transaction": 0.01, "pending": 0.04, "short": 0.03, "failed": 0.03, "late": 0.02,
    "unknown_link": 0.002,
}
LIFETIME = timedelta(days=3)
ATTEMPT_STATUSES = {"settled": 85, "failed": 10, "confirmed": 3, "pending": 2}


def parse_mix(text: str) -> dict[str, float] | None:
    """`none` (no transactions), `default`, or `case=share,...` over the default mix."""
    if text.strip() == "none":
        return None
    mix = dict(DEFAULT_MIX)
    for item in filter(None, (part.strip() for part in text.split(","))):
        if item == "default":
            continue
        name, _, share = item.partition("=")
        try:
            mix[name.strip()] = float(share)
        except ValueError:
            raise ValueError(f"{item!r} is not case=share (such as twice=0.05)") from None
    return check_mix(mix)


def check_mix(mix: dict[str, Any]) -> dict[str, float]:
    """The default mix with `mix`'s shares over it; ValueError naming what is wrong."""
    unknown = sorted(set(mix) - set(MIX_CASES))
    if unknown:
        raise ValueError(f"unknown cases {unknown}; known: {', '.join(MIX_CASES)}")
    full = {**DEFAULT_MIX, **mix}
    for name, share in full.items():
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise ValueError(f"the share of {name} must be a number from 0 to 1")
    for status in BASE_CASE:
        total = sum(full[name] for name, on in MIX_CASES.items() if status in on)
        if total > 1:
            raise ValueError(f"the shares of the cases of {status} links add up to more "
                             f"than 1 ({total:g})")
    return {name: float(share) for name, share in full.items()}


def _between(rng: random.Random, start: datetime, stop: datetime) -> datetime:
    return start + (stop - start) * rng.random() if stop > start else start


class _Planter:
    """Builds each case's transactions for one link at a time."""

    def __init__(self, book: TransactionBook, now: datetime) -> None:
        self.book, self.rng, self.now = book, book.rng, now
        self.delay = timedelta(seconds=book.settings.settle_delay_seconds)
        self.made: list[Transaction] = []
        self._exact: dict[str, str] = {}

    def exact(self, link: Link) -> str:
        """The link's amount as a transaction writes it."""
        text = self._exact.get(link.id)
        if text is None:
            text = self._exact[link.id] = self.text(link, Decimal(link.amount))
        return text

    @staticmethod
    def text(link: Link, value: Decimal) -> str:
        return written(value, tx_places(link.currency, link.amount))

    def money(self, link: Link, amount: str, confirmed: datetime, settles: bool = True,
              lead: float = 1200) -> None:
        """Money confirmed at `confirmed`, settled after the delay if that has passed."""
        confirmed = min(confirmed, self.now)
        created = max(link.created_at, confirmed - timedelta(seconds=self.rng.uniform(10, lead)))
        settled = confirmed + self.delay
        done = settles and settled <= self.now
        self.made.append(Transaction(
            id=self.book.new_id(), payment_link_id=link.id, currency=link.currency,
            amount=amount, status="settled" if done else "confirmed",
            created_at=min(created, confirmed),
            tx_hash=self.book.new_hash(link.currency), confirmed_at=confirmed,
            settled_at=settled if done else None, settles=settles))

    def attempt(self, link: Link, created: datetime, status: str) -> None:
        """A pending attempt, or a failed one (some failed on the chain, with a hash)."""
        chained = status == "failed" and self.rng.random() < 0.3
        self.made.append(Transaction(
            id=self.book.new_id(), payment_link_id=link.id, currency=link.currency,
            amount=self.exact(link), status=status, created_at=min(created, self.now),
            tx_hash=self.book.new_hash(link.currency) if chained else None))

    def paid_at(self, link: Link) -> datetime:
        return min(link.paid_at or link.created_at + timedelta(minutes=5), self.now)

    def life_end(self, link: Link) -> datetime:
        if link.status == "active" and link.expires_at is None:
            return self.now
        return min(self.now, link.created_at + LIFETIME)

    def short(self, link: Link) -> Decimal:
        value = Decimal(link.amount)
        return short_of(value, tx_places(link.currency, link.amount), self.rng) or value

    def over(self, link: Link) -> Decimal:
        return over_of(Decimal(link.amount), tx_places(link.currency, link.amount), self.rng)


def _exact(p: _Planter, link: Link) -> None:
    p.money(link, p.exact(link), p.paid_at(link))


def _over(p: _Planter, link: Link) -> None:
    p.money(link, p.text(link, p.over(link)), p.paid_at(link))


def _split(p: _Planter, link: Link) -> None:
    paid, part = p.paid_at(link), p.short(link)
    first = max(link.created_at, paid - timedelta(seconds=p.rng.uniform(60, 7200)))
    p.money(link, p.text(link, part), first, lead=60)
    if part < Decimal(link.amount):
        p.money(link, p.text(link, Decimal(link.amount) - part), paid, lead=60)


def _twice(p: _Planter, link: Link) -> None:
    paid = p.paid_at(link)
    p.money(link, p.exact(link), paid)
    p.money(link, p.exact(link), paid + timedelta(seconds=p.rng.uniform(60, 86_400)),
            lead=30)


def _failed_then_paid(p: _Planter, link: Link) -> None:
    paid = p.paid_at(link)
    p.attempt(link, max(link.created_at, paid - timedelta(seconds=p.rng.uniform(120, 3600))),
              "failed")
    p.money(link, p.exact(link), paid, lead=60)


def _unsettled(p: _Planter, link: Link) -> None:
    p.money(link, p.exact(link), p.paid_at(link), settles=False)


def _pending(p: _Planter, link: Link) -> None:
    p.attempt(link, max(link.created_at, p.now - timedelta(seconds=p.rng.uniform(0, 1800))),
              "pending")


def _short(p: _Planter, link: Link) -> None:
    p.money(link, p.text(link, p.short(link)),
            _between(p.rng, link.created_at, p.life_end(link)), lead=60)


def _failed(p: _Planter, link: Link) -> None:
    p.attempt(link, _between(p.rng, link.created_at, p.life_end(link)), "failed")


def _late(p: _Planter, link: Link) -> None:
    end = p.life_end(link) if link.status == "expired" else _between(
        p.rng, link.created_at, p.now)
    p.money(link, p.exact(link), _between(p.rng, end, p.now), lead=60)


def _none(p: _Planter, link: Link) -> None:
    return None


PLANT: dict[str, Callable[[_Planter, Link], None]] = {
    "exact": _exact, "over": _over, "split": _split, "twice": _twice,
    "failed_then_paid": _failed_then_paid, "unsettled": _unsettled, "no_transaction": _none,
    "pending": _pending, "short": _short, "failed": _failed, "late": _late, "none": _none,
}


def generate_transactions(state: SandboxState, links: Iterable[Link],
                          mix: dict[str, float] | None = None) -> Counter[str]:
    """Give each link its case's transactions (`mix`: shares per case, the default mix
    when None); returns how many links got each case."""
    book, shares = state.transactions, check_mix(mix or {})
    planter = _Planter(book, state.now())
    tables = {}
    for status, base in BASE_CASE.items():
        names = [name for name, on in MIX_CASES.items() if status in on]
        weights = [shares[name] for name in names]
        tables[status] = ([*names, base],
                          list(accumulate([*weights, max(0.0, 1 - sum(weights))])))
    cases: Counter[str] = Counter()
    seen = 0
    for link in links:
        table = tables.get(link.status)
        if link.raw is not None or table is None:
            continue
        seen += 1
        case = book.rng.choices(table[0], cum_weights=table[1])[0]
        cases[case] += 1
        PLANT[case](planter, link)
        book.cases.setdefault(case, []).append(link.id)
    _unknown_links(planter, round(seen * shares["unknown_link"]), cases)
    book.add_many(planter.made)
    return cases


def _unknown_links(planter: _Planter, count: int, cases: Counter[str]) -> None:
    book = planter.book
    for _ in range(count):
        amount, currency = random_amount(book.rng)
        created = planter.now - timedelta(days=book.rng.uniform(0, 30))
        ghost = Link(id=f"pl_{book.rng.getrandbits(100):025x}", amount=amount,
                     currency=currency, description=None, status="paid", created_at=created,
                     seq=0)
        planter.money(ghost, planter.exact(ghost), created + timedelta(minutes=10))
        book.cases.setdefault("unknown_link", []).append(ghost.id)
        cases["unknown_link"] += 1


def generate_attempts(state: SandboxState, count: int) -> int:
    """`count` more payment attempts on random links, for load rather than findings (they
    pay links again and pay links that ended): mostly settled, some failed, a few pending
    or confirmed. With no links, on links PIK does not have."""
    book, now = state.transactions, state.now()
    links = [link for link in state.links.values() if link.raw is None]
    planter = _Planter(book, now)
    statuses = list(ATTEMPT_STATUSES)
    cumulative = list(accumulate(ATTEMPT_STATUSES.values()))
    if not links:
        _unknown_links(planter, count, Counter())
    for _ in range(count if links else 0):
        link = links[book.rng.randrange(len(links))]
        status = book.rng.choices(statuses, cum_weights=cumulative)[0]
        when = _between(book.rng, link.created_at, now)
        if status in ("pending", "failed"):
            planter.attempt(link, when, status)
        else:
            planter.money(link, planter.exact(link), when, settles=status == "settled")
    return book.add_many(planter.made)


def _time(record: dict[str, Any], name: str, required: bool = False) -> datetime | None:
    value = record.get(name)
    if value is None and not required:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{name}' is not an ISO 8601 time: {value!r}") from None


def transaction_from_record(record: Any) -> Transaction:
    """A transaction from a seed record in the API's own shape (plus `never_settles`);
    ValueError naming the field that is wrong."""
    if not isinstance(record, dict):
        raise ValueError("a transaction must be a JSON object")
    for name in ("id", "payment_link_id", "amount", "currency"):
        if not isinstance(record.get(name), str) or not record[name]:
            raise ValueError(f"'{name}' must be a non-empty string")
    try:
        amount = Decimal(record["amount"])
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"'amount' must be a positive decimal string, not {record['amount']!r}")
    status = record.get("status")
    if status not in TX_STATUSES:
        raise ValueError(f"'status' must be one of {', '.join(TX_STATUSES)}, not {status!r}")
    created = _time(record, "created_at", required=True)
    confirmed, settled = _time(record, "confirmed_at"), _time(record, "settled_at")
    if status in ("confirmed", "settled") and confirmed is None:
        raise ValueError(f"a {status} transaction needs 'confirmed_at'")
    if status == "settled" and settled is None:
        raise ValueError("a settled transaction needs 'settled_at'")
    assert created is not None
    return Transaction(id=record["id"], payment_link_id=record["payment_link_id"],
                       amount=record["amount"], currency=record["currency"], status=status,
                       created_at=created, tx_hash=record.get("tx_hash"),
                       confirmed_at=confirmed, settled_at=settled,
                       settles=not record.get("never_settles", False))

"""Money for generated data: each planted link's transactions and PIK's events about them.

A link of an order case gets clean money (a paid link one exact payment, now and then in two
parts or after a failed attempt; an unpaid one at most an attempt that brought nothing), and
every payment its signed events. The money cases plant one three-way category each (SPEC
§6) on a link of their own, so what each finding says and puts at stake is known by
construction: the shortfall planted, the excess planted, the transactions no event was
written for, ...
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pik_recon.sandbox.state import iso, random_amount
from pik_recon.sandbox.transactions import over_of, short_of, tx_places, written

GRACE = timedelta(hours=6)  # pik-recon's default [reconcile] webhook_grace_hours
# case -> weight, beside generate.CASES; "clean_paid_recently" plants no finding
MONEY_CASES = {
    "underpaid": 3, "overpaid": 3, "paid_without_transaction": 2, "payment_on_closed_link": 2,
    "unsettled": 2, "transaction_unknown_link": 1, "webhook_missed": 2, "webhook_disagrees": 2,
    "clean_paid_recently": 2,
}


def at_least_two_units(amount: str, currency: str) -> bool:
    """Whether a payment on a link of this amount can fall short and still bring money."""
    return Decimal(amount).scaleb(tx_places(currency, amount)) >= 2


@dataclass
class Payments:
    """The transactions (as the sandbox seeds them) and event bodies planted so far."""

    rng: random.Random
    as_of: datetime
    transactions: list[dict[str, Any]] = field(default_factory=list)
    events: list[bytes] = field(default_factory=list)

    def _hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    @staticmethod
    def text(link: dict[str, Any], value: Decimal) -> str:
        """An amount as a transaction on this link writes it."""
        return written(value, tx_places(link["currency"], link["amount"]))

    def pay(self, link: dict[str, Any], amount: str, confirmed: datetime, *,
            settled: bool | None = None, announce: bool = True) -> dict[str, Any]:
        """Money confirmed at `confirmed`; settled an hour or two later unless that is after
        as_of (or `settled` says); its events written unless `announce` is false."""
        settle_at = confirmed + timedelta(hours=self.rng.uniform(0.5, 3))
        done = settle_at <= self.as_of if settled is None else settled
        txn = self._transaction(link, amount, "settled" if done else "confirmed",
                                confirmed - timedelta(minutes=self.rng.uniform(0.5, 5)))
        txn.update(tx_hash=self._hex(64), confirmed_at=iso(confirmed),
                   settled_at=iso(min(settle_at, self.as_of)) if done else None)
        if not done:
            txn["never_settles"] = True  # the sandbox holds it confirmed, as planted
        if announce:
            self.announce(txn)
        return txn

    def attempt(self, link: dict[str, Any], status: str, at: datetime) -> dict[str, Any]:
        """A pending attempt, or a failed one (with its event): no money."""
        txn = self._transaction(link, self.text(link, Decimal(link["amount"])), status, at)
        txn.update(tx_hash=None, confirmed_at=None, settled_at=None)
        if status == "failed":
            self.events.append(self.event("payment.failed", txn, at))
        return txn

    def _transaction(self, link: dict[str, Any], amount: str, status: str,
                     created: datetime) -> dict[str, Any]:
        txn = {"id": "txn_" + self._hex(24), "payment_link_id": link["id"], "amount": amount,
               "currency": link["currency"], "status": status,
               "created_at": iso(max(created, _time(link["created_at"])))}
        self.transactions.append(txn)
        return txn

    def announce(self, txn: dict[str, Any], settled_too: bool | None = None) -> None:
        """payment.confirmed, and payment.settled once settled (sometimes left out: a
        confirmed event about a settled payment agrees with it)."""
        self.events.append(self.event("payment.confirmed", txn, _time(txn["confirmed_at"])))
        if txn["status"] == "settled" and (self.rng.random() < 0.7 if settled_too is None
                                           else settled_too):
            self.events.append(self.event("payment.settled", txn, _time(txn["settled_at"])))

    def event(self, kind: str, txn: dict[str, Any], at: datetime, **changed: Any) -> bytes:
        """An event body as PIK sends it (compact JSON), `changed` fields of its data
        contradicting the transaction."""
        status = kind.split(".")[1]
        data = {"transaction_id": txn["id"], "payment_link_id": txn["payment_link_id"],
                "amount": txn["amount"], "currency": txn["currency"], "status": status,
                "confirmed_at": txn["confirmed_at"],
                "settled_at": txn["settled_at"] if status == "settled" else None,
                "tx_hash": txn["tx_hash"], **changed}
        return json.dumps({"event": kind, "id": "evt_" + self._hex(24),
                           "created_at": iso(at), "data": data},
                          separators=(",", ":")).encode()

    # --- the money of a link of an order case ------------------------------------------
    def clean(self, link: dict[str, Any]) -> None:
        """Money that makes no finding: a paid link's amount, exactly; an unpaid link's
        attempts that brought nothing."""
        created, draw = _time(link["created_at"]), self.rng.random()
        if link["status"] != "paid":
            if draw < 0.1:
                self.attempt(link, "failed", created + timedelta(minutes=self.rng.uniform(1, 60)))
            elif draw < 0.15 and link["status"] == "active":
                self.attempt(link, "pending", max(created, self.as_of - timedelta(minutes=30)))
            return
        paid, amount = _time(link["paid_at"]), Decimal(link["amount"])
        part = short_of(amount, tx_places(link["currency"], link["amount"]), self.rng)
        if draw < 0.08 and part is not None:  # in two parts, the second paying it in full
            self.pay(link, self.text(link, part), paid - (paid - created) * self.rng.random())
            self.pay(link, self.text(link, amount - part), paid)
            return
        if draw < 0.14:
            self.attempt(link, "failed", paid - (paid - created) * self.rng.random())
        self.pay(link, self.text(link, amount), paid)

    # --- the money cases: (transactions the finding is about, money at stake) ----------
    def underpaid(self, link: dict[str, Any]) -> tuple[list[str], Decimal]:
        amount = Decimal(link["amount"])
        places = tx_places(link["currency"], link["amount"])
        short = short_of(amount, places, self.rng)
        assert short is not None  # the case's amount has at least two units
        parts = [short]
        if self.rng.random() < 0.3 and (first := short_of(short, places, self.rng)):
            parts = [first, short - first]
        created = _time(link["created_at"])
        txns = [self.pay(link, self.text(link, part), _between(self.rng, created, self.as_of))
                for part in parts]
        return _ids(txns), amount - short

    def overpaid(self, link: dict[str, Any]) -> tuple[list[str], Decimal]:
        amount, paid = Decimal(link["amount"]), _time(link["paid_at"])
        places = tx_places(link["currency"], link["amount"])
        if self.rng.random() < 0.5:  # paid twice
            values = [amount, amount]
        else:
            values = [over_of(amount, places, self.rng)]
        txns = [self.pay(link, self.text(link, values[0]), paid)]
        txns += [self.pay(link, self.text(link, v), _between(self.rng, paid, self.as_of))
                 for v in values[1:]]
        return _ids(txns), sum(values, Decimal(0)) - amount

    def without_money(self, link: dict[str, Any]) -> tuple[list[str], Decimal]:
        """PIK shows the link paid with no confirmed or settled money: at most an attempt."""
        draw, paid = self.rng.random(), _time(link["paid_at"])
        txns = ([self.attempt(link, "failed", paid)] if draw < 0.3 else
                [self.attempt(link, "pending", paid)] if draw < 0.5 else [])
        return _ids(txns), Decimal(link["amount"])

    def late(self, link: dict[str, Any], ended: datetime) -> tuple[list[str], Decimal]:
        """The amount, confirmed after the link ended."""
        txn = self.pay(link, self.text(link, Decimal(link["amount"])),
                       _between(self.rng, ended, self.as_of))
        return [txn["id"]], Decimal(txn["amount"])

    def unsettled(self, link: dict[str, Any]) -> tuple[list[str], Decimal]:
        txn = self.pay(link, self.text(link, Decimal(link["amount"])), _time(link["paid_at"]),
                       settled=False)
        return [txn["id"]], Decimal(txn["amount"])

    def unknown_link(self) -> tuple[str, list[str], str, Decimal]:
        """A settled payment on a link PIK does not have: (link id, transactions,
        currency, amount)."""
        amount, currency = random_amount(self.rng)
        link = {"id": "pl_" + "".join(self.rng.choice("0123456789abcdefghijklmnopqrstuvwxyz")
                                      for _ in range(20)),
                "amount": amount, "currency": currency,
                "created_at": iso(self.as_of - timedelta(days=self.rng.uniform(1, 40)))}
        confirmed = _between(self.rng, _time(link["created_at"]), self.as_of - GRACE)
        txn = self.pay(link, self.text(link, Decimal(amount)), confirmed, settled=True)
        return link["id"], [txn["id"]], currency, Decimal(txn["amount"])

    def missed(self, link: dict[str, Any]) -> tuple[list[str], Decimal]:
        """Settled money no signed event announced, confirmed before the grace began; half
        the time the link was paid in two parts and only the first was announced."""
        amount, paid = Decimal(link["amount"]), _time(link["paid_at"])
        part = short_of(amount, tx_places(link["currency"], link["amount"]), self.rng)
        missed = amount
        if part is not None and self.rng.random() < 0.5:
            self.pay(link, self.text(link, part), paid - (paid - _time(link["created_at"])) / 2)
            missed = amount - part
        txn = self.pay(link, self.text(link, missed), paid, settled=True, announce=False)
        return [txn["id"]], Decimal(txn["amount"])

    def disagreeing(self, link: dict[str, Any]) -> tuple[list[str], Decimal]:
        """Settled money announced, and a signed event whose amount, currency, link or
        status contradicts it."""
        txn = self.pay(link, self.text(link, Decimal(link["amount"])), _time(link["paid_at"]),
                       settled=True, announce=False)
        at = _time(txn["settled_at"])
        way = self.rng.choice(("amount", "currency", "link", "failed"))
        if way == "amount":
            wrong = {"amount": self.text(link, Decimal(txn["amount"]) + Decimal("0.01"))}
        elif way == "currency":
            wrong = {"currency": "USDC" if txn["currency"] != "USDC" else "USDT"}
        elif way == "link":
            wrong = {"payment_link_id": "pl_" + self._hex(20)}
        else:
            self.announce(txn, settled_too=True)
            self.events.append(self.event("payment.failed", txn, at))
            return [txn["id"]], Decimal(txn["amount"])
        self.announce(txn, settled_too=False)
        self.events.append(self.event("payment.settled", txn, at, **wrong))
        return [txn["id"]], Decimal(txn["amount"])


def _ids(txns: list[dict[str, Any]]) -> list[str]:
    """Transaction ids as a finding lists them: in the order they were created."""
    return [t["id"] for t in sorted(txns, key=lambda t: (t["created_at"], t["id"]))]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _between(rng: random.Random, start: datetime, stop: datetime) -> datetime:
    return start + (stop - start) * rng.random() if stop > start else start

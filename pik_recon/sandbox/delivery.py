"""Webhook delivery: registered endpoints, signed events and PIK's retry schedule.

Every change of a transaction to confirmed, settled or failed is an event, POSTed to each
endpoint subscribed to it with `PIK-Signature`, the hex HMAC-SHA256 of the raw body keyed with
the endpoint's whole secret. An answer other than 200 within the timeout is retried after
5 min, 30 min, 2 h, 8 h and 24 h of the webhook clock (the sandbox clock sped up by
`webhook_clock_speed`), each counted from the failed attempt; after the last the delivery is
undelivered until replayed by hand. The pump runs in the sandbox's own event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import hmac
import ipaddress
import json
import random
import secrets
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from pik_recon.sandbox.state import iso

if TYPE_CHECKING:
    from pik_recon.sandbox.state import SandboxState
    from pik_recon.sandbox.transactions import Transaction

EVENTS = ("payment.confirmed", "payment.settled", "payment.failed")
EVENT_OF_STATUS = {"confirmed": "payment.confirmed", "settled": "payment.settled",
                   "failed": "payment.failed"}
RETRY_DELAYS = (300, 1800, 7200, 28800, 86400)
TICK_SECONDS = 0.02
NOT_PUBLIC_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa")


@dataclass
class WebhookSettings:
    """Delivery switches, set at start or through /_admin/config by name."""

    webhook_clock_speed: float = 1.0  # webhook-clock seconds per real second
    webhook_timeout_seconds: float = 10.0  # real seconds an endpoint has to answer 200
    webhook_concurrency: int = 4  # attempts in flight per endpoint
    webhook_lost: float = 0.0  # share of deliveries never sent
    webhook_duplicate: float = 0.0  # share of delivered ones sent a second time
    webhook_out_of_order: float = 0.0  # share held back until a later one has gone out
    webhook_hold_seconds: float = 60.0  # webhook-clock seconds a held one waits at most
    webhook_bad_signature: float = 0.0  # share signed with the wrong key


@dataclass(eq=False)
class Endpoint:
    id: str
    url: str
    events: tuple[str, ...]
    secret: str = field(repr=False)
    created_at: datetime
    loopback: bool
    status: str = "active"
    queue: list[tuple[float, int, datetime, Delivery, str]] = field(default_factory=list)
    held: list[Delivery] = field(default_factory=list)
    in_flight: int = 0

    def as_dict(self) -> dict[str, Any]:
        """As GET /webhooks shows it: never the secret."""
        return {"id": self.id, "url": self.url, "events": list(self.events),
                "status": self.status, "created_at": iso(self.created_at)}


@dataclass(eq=False)
class Event:
    id: str
    type: str
    transaction_id: str
    created_at: datetime
    body: bytes

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "event": self.type, "transaction_id": self.transaction_id,
                "created_at": iso(self.created_at), "body": self.body.decode()}


@dataclass(eq=False)
class Delivery:
    """One event for one endpoint, and what became of it."""

    seq: int
    event: Event
    endpoint: Endpoint
    state: str = "queued"  # queued, held, sending, delivered, undelivered, lost
    attempts: int = 0
    lost: bool = False
    duplicate: bool = False
    held: bool = False
    bad_signature: bool = False
    hold_until: float = 0.0
    duplicated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"delivery": self.seq, "event_id": self.event.id, "event": self.event.type,
                "transaction_id": self.event.transaction_id, "endpoint_id": self.endpoint.id,
                "state": self.state, "attempts": self.attempts, "lost": self.lost,
                "duplicate": self.duplicate, "held": self.held,
                "bad_signature": self.bad_signature}


def check_url(url: object) -> bool:
    """Refuse what PIK refuses, except loopback addresses, which the sandbox takes over
    plain HTTP for local receivers; return whether the URL is loopback."""
    if not isinstance(url, str) or len(url) > 2048:
        raise ValueError("'url' must be an HTTPS URL of at most 2048 characters")
    parts = urlsplit(url)
    host = parts.hostname
    try:
        parts.port  # noqa: B018 (its parsing refuses a bad port)
    except ValueError:
        raise ValueError(f"'url' has a port that is not a number from 1 to 65535: {url}"
                         ) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("'url' must be an HTTPS URL such as https://shop.example/webhooks")
    loopback = _is_loopback(host)
    if parts.scheme == "http" and not loopback:
        raise ValueError("'url' must use HTTPS (the sandbox also takes plain HTTP to "
                         "127.0.0.1 and localhost, for local receivers)")
    if not loopback and not _is_public(host):
        raise ValueError(f"'url' must be a public address, not {host}")
    return loopback


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _is_public(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return "." in host.strip(".") and not host.endswith(NOT_PUBLIC_SUFFIXES)


def check_events(events: object) -> tuple[str, ...]:
    if (not isinstance(events, list) or not events
            or not all(isinstance(e, str) and e in EVENTS for e in events)
            or len(set(events)) != len(events)):
        raise ValueError(f"'events' must be a non-empty list of {', '.join(EVENTS)}, each "
                         "once")
    return tuple(events)


def signature(secret: str, body: bytes) -> str:
    """PIK-Signature: the hex HMAC-SHA256 of the raw body keyed with the whole secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookHub:
    """The endpoints, the events, their deliveries and the log of every attempt."""

    def __init__(self, state: SandboxState, seed: int) -> None:
        self.state = state
        self.settings = WebhookSettings()
        self.rng = random.Random(f"webhooks-{seed}")
        self.endpoints: dict[str, Endpoint] = {}
        self.events: list[Event] = []
        self.deliveries: list[Delivery] = []
        self.log: list[dict[str, Any]] = []
        self._order = 0
        self._accelerated = 0.0
        self._since = time.monotonic()
        self._wake = asyncio.Event()  # an attempt ended: look for more at once
        state.transactions.listeners.append(self.emit)

    # --- the webhook clock -------------------------------------------------------------
    def clock(self) -> datetime:
        extra = self._accelerated + (self.settings.webhook_clock_speed - 1) * (
            time.monotonic() - self._since)
        return self.state.now() + timedelta(seconds=extra)

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("'webhook_clock_speed' must be above 0")
        now = time.monotonic()
        self._accelerated += (self.settings.webhook_clock_speed - 1) * (now - self._since)
        self._since = now
        self.settings.webhook_clock_speed = speed

    # --- registration and events -------------------------------------------------------
    def register(self, url: object, events: object) -> Endpoint:
        """A new endpoint; refused with ValueError as PIK refuses it."""
        loopback = check_url(url)
        kinds = check_events(events)
        assert isinstance(url, str)
        endpoint = Endpoint(id=f"wh_{self.rng.getrandbits(80):020x}", url=url, events=kinds,
                            secret="whsec_" + secrets.token_urlsafe(24),
                            created_at=self.state.now(), loopback=loopback)
        self.endpoints[endpoint.id] = endpoint
        return endpoint

    def emit(self, txn: Transaction) -> None:
        """An event for a transaction's new status, queued for each endpoint that wants it."""
        kind = EVENT_OF_STATUS.get(txn.status)
        targets = [e for e in self.endpoints.values()
                   if kind in e.events and e.status == "active"]
        if kind is None or not targets:
            return
        event = self._event(kind, txn)
        now = self.clock()
        for endpoint in targets:
            self._deliver(event, endpoint, now)

    def _event(self, kind: str, txn: Transaction) -> Event:
        shown = txn.as_dict()
        created = self.state.now()
        event = Event(id=f"evt_{self.rng.getrandbits(96):024x}", type=kind,
                      transaction_id=txn.id, created_at=created, body=b"")
        data = {"transaction_id": txn.id, **{k: shown.get(k) for k in (
            "payment_link_id", "amount", "currency", "status", "confirmed_at", "settled_at",
            "tx_hash")}}
        event.body = json.dumps({"event": kind, "id": event.id, "created_at": iso(created),
                                 "data": data}, separators=(",", ":"),
                                ensure_ascii=False).encode()
        self.events.append(event)
        return event

    def _deliver(self, event: Event, endpoint: Endpoint, now: datetime) -> None:
        draw = self.settings
        delivery = Delivery(seq=len(self.deliveries), event=event, endpoint=endpoint,
                            lost=self.rng.random() < draw.webhook_lost,
                            duplicate=self.rng.random() < draw.webhook_duplicate,
                            held=self.rng.random() < draw.webhook_out_of_order,
                            bad_signature=self.rng.random() < draw.webhook_bad_signature)
        self.deliveries.append(delivery)
        if delivery.lost:
            delivery.state = "lost"
        elif delivery.held:
            delivery.state = "held"
            delivery.hold_until = now.timestamp() + draw.webhook_hold_seconds
            endpoint.held.append(delivery)
        else:
            self._queue(delivery, now, "attempt")

    def _queue(self, delivery: Delivery, due: datetime, kind: str) -> None:
        self._order += 1
        heapq.heappush(delivery.endpoint.queue, (due.timestamp(), self._order, due, delivery, kind))

    def _release(self, delivery: Delivery, now: datetime) -> None:
        delivery.endpoint.held.remove(delivery)
        delivery.state = "queued"
        self._queue(delivery, now, "attempt")

    def replay(self, event_id: str | None) -> int:
        """Send again by hand: the event's deliveries, or every undelivered one; one
        attempt each."""
        chosen = [d for d in self.deliveries if d.state not in ("sending", "queued", "held")
                  and (d.event.id == event_id if event_id else d.state == "undelivered")]
        now = self.clock()
        for delivery in chosen:
            delivery.state = "queued"
            self._queue(delivery, now, "replay")
        return len(chosen)

    # --- the pump ----------------------------------------------------------------------
    def take_due(self) -> list[tuple[Delivery, str, datetime]]:
        """What is due on the webhook clock, within each endpoint's concurrency; a held
        delivery goes out once a later one has, or when its hold is over."""
        now = self.clock()
        taken: list[tuple[Delivery, str, datetime]] = []
        for endpoint in self.endpoints.values():
            for delivery in [d for d in endpoint.held if d.hold_until <= now.timestamp()]:
                self._release(delivery, now)
            while (endpoint.queue and endpoint.queue[0][0] <= now.timestamp()
                   and endpoint.in_flight < self.settings.webhook_concurrency):
                _, _, due, delivery, kind = heapq.heappop(endpoint.queue)
                endpoint.in_flight += 1
                if kind != "duplicate":
                    delivery.state = "sending"
                taken.append((delivery, kind, due))
                for earlier in [d for d in endpoint.held if d.seq < delivery.seq]:
                    self._release(earlier, now)
        return taken

    async def run(self) -> None:
        """Settle what is due and send what is due, every tick and whenever an attempt
        ends, until cancelled."""
        sending: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession() as session:
            try:
                while True:
                    # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow the
                    # cancellation that stops the sandbox when a send wakes it at that moment
                    with suppress(TimeoutError):
                        async with asyncio.timeout(TICK_SECONDS):
                            await self._wake.wait()
                    self._wake.clear()
                    with self.state.lock:
                        self.state.transactions.settle_due()
                        taken = self.take_due()
                    for delivery, kind, due in taken:
                        task = asyncio.create_task(self._send(session, delivery, kind, due))
                        sending.add(task)
                        task.add_done_callback(sending.discard)
            finally:
                for task in sending:
                    task.cancel()
                await asyncio.gather(*sending, return_exceptions=True)

    async def _send(self, session: aiohttp.ClientSession, delivery: Delivery, kind: str,
                    due: datetime) -> None:
        endpoint = delivery.endpoint
        with self.state.lock:
            sent_at, timeout = self.clock(), self.settings.webhook_timeout_seconds
        key = endpoint.secret.removeprefix("whsec_") if delivery.bad_signature else (
            endpoint.secret)
        headers = {"Content-Type": "application/json", "User-Agent": "PIK-Webhooks/1.0",
                   "PIK-Signature": signature(key, delivery.event.body)}
        code, error = await _post(session, endpoint, delivery.event.body, headers, timeout)
        with self.state.lock:
            finished = self.clock()
            endpoint.in_flight -= 1
            self.log.append({
                "n": len(self.log), "kind": kind, "delivery": delivery.seq,
                "event_id": delivery.event.id, "event": delivery.event.type,
                "transaction_id": delivery.event.transaction_id, "endpoint_id": endpoint.id,
                "attempt": delivery.attempts + 1 if kind == "attempt" else None,
                "due_at": iso(due), "sent_at": iso(sent_at), "finished_at": iso(finished),
                "status_code": code, "error": error, "delivered": code == 200,
                "held": delivery.held, "bad_signature": delivery.bad_signature})
            self._after(delivery, kind, code == 200, finished)
        self._wake.set()

    def _after(self, delivery: Delivery, kind: str, ok: bool, finished: datetime) -> None:
        if kind == "duplicate":
            return
        delivery.attempts += 1
        if ok:
            delivery.state = "delivered"
            if delivery.duplicate and not delivery.duplicated:
                delivery.duplicated = True
                self._queue(delivery, finished, "duplicate")
        elif kind == "replay" or delivery.attempts > len(RETRY_DELAYS):
            delivery.state = "undelivered"
        else:
            delivery.state = "queued"
            self._queue(delivery, finished + timedelta(
                seconds=RETRY_DELAYS[delivery.attempts - 1]), "attempt")

    def summary(self) -> dict[str, Any]:
        return {"endpoints": len(self.endpoints), "events": len(self.events),
                "attempts": len(self.log),
                "deliveries": dict(Counter(d.state for d in self.deliveries))}


async def _post(session: aiohttp.ClientSession, endpoint: Endpoint, body: bytes,
                headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """POST one delivery; (status code, None) or (None, what went wrong)."""
    if not endpoint.loopback:
        return None, "not sent: the sandbox sends to loopback addresses only"
    try:
        async with session.post(endpoint.url, data=body, headers=headers,
                                timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            await response.read()
            return response.status, None
    except TimeoutError:
        return None, f"no answer within {timeout:g} s"
    except aiohttp.ClientError as exc:
        return None, f"{type(exc).__name__}: {exc}"

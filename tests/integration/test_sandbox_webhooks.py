"""The sandbox registers webhook endpoints and delivers signed events as PIK documents them,
to a real receiver on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from aiohttp import web

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState
from tests.conftest import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}
EVENTS = ["payment.confirmed", "payment.settled", "payment.failed"]
SCHEDULE = [300, 1800, 7200, 28800, 86400]


class Receiver:
    """A webhook endpoint on a loopback port, in a thread of its own: keeps every delivery
    as it arrived, and answers what `answer` says (200 unless told)."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.answer: Callable[[dict[str, str], bytes], int] = lambda headers, body: 200
        self.delay = 0.0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        with self.lock:
            self.got.append((request.path, headers, body))
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=self.answer(headers, body))

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, _, body in self.got]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver().start()
    yield box
    box.stop()


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, headers=AUTH, timeout=30) as client:
        yield client


def _admin(sandbox: SandboxServer, path: str, body: dict | None = None) -> Any:
    response = httpx.post(f"{sandbox.admin_url}/{path}", json=body or {})
    assert response.status_code in (200, 201), response.text
    return response.json()


def _deliveries(sandbox: SandboxServer) -> dict[str, Any]:
    return httpx.get(f"{sandbox.admin_url}/deliveries").json()


def _register(api: httpx.Client, url: str, events: list[str] = EVENTS) -> dict[str, Any]:
    response = api.post("/webhooks", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    return response.json()


def _wait_for(check: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _pay_links(state: SandboxState, count: int) -> list[str]:
    """`count` links created and paid in full: one payment.confirmed event each."""
    with state.lock:
        links = [state.create("10.00", "USDT", None) for _ in range(count)]
        return [state.transactions.pay(link).id for link in links]  # type: ignore[union-attr]


def _signed(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_registration_answers_the_secret_once_and_lists_without_it(
        api: httpx.Client) -> None:
    first = _register(api, "https://shop.example/webhooks/pik", ["payment.settled"])
    second = _register(api, "http://127.0.0.1:9/hook")
    assert first["id"].startswith("wh_")
    assert first["secret"].startswith("whsec_") and len(first["secret"]) > 20
    assert first["secret"] != second["secret"]
    assert (first["url"], first["events"], first["status"]) == (
        "https://shop.example/webhooks/pik", ["payment.settled"], "active")
    listed = api.get("/webhooks")
    assert listed.json()["total"] == 2
    assert [e["id"] for e in listed.json()["data"]] == [first["id"], second["id"]]
    assert "secret" not in listed.text and first["secret"] not in listed.text
    assert api.get("/webhooks", headers={"Authorization": "Bearer x"}).status_code == 401


@pytest.mark.parametrize(("body", "named"), [
    ({"url": "http://shop.example/hook", "events": EVENTS}, "HTTPS"),
    ({"url": "ftp://shop.example/hook", "events": EVENTS}, "'url'"),
    ({"url": "https://10.0.0.7/hook", "events": EVENTS}, "public"),
    ({"url": "https://192.168.1.2/hook", "events": EVENTS}, "public"),
    ({"url": "https://intranet/hook", "events": EVENTS}, "public"),
    ({"url": "https://shop.local/hook", "events": EVENTS}, "public"),
    ({"url": "not a url", "events": EVENTS}, "'url'"),
    ({"url": "https://shop.example:99999/hook", "events": EVENTS}, "port"),
    ({"events": EVENTS}, "'url'"),
    ({"url": "https://shop.example/hook", "events": []}, "'events'"),
    ({"url": "https://shop.example/hook", "events": ["payment.refunded"]}, "'events'"),
    ({"url": "https://shop.example/hook"}, "'events'"),
    (["https://shop.example/hook"], "JSON object"),
])
def test_registration_refuses_what_pik_refuses(api: httpx.Client, body: Any,
                                               named: str) -> None:
    response = api.post("/webhooks", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert named in response.json()["error"]["message"]
    assert api.get("/webhooks").json()["total"] == 0


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://localhost/hook",
                                 "http://[::1]:8000/hook", "https://shop.example/hook",
                                 "https://93.184.216.34/hook"])
def test_registration_takes_https_and_loopback(api: httpx.Client, url: str) -> None:
    assert _register(api, url)["url"] == url


def test_every_event_is_signed_over_its_raw_body(api: httpx.Client, sandbox: SandboxServer,
                                                 receiver: Receiver) -> None:
    secret = _register(api, receiver.url())["secret"]
    link = api.post("/payment-links", json={"amount": "70.00", "currency": "USDT"}).json()
    paid = _admin(sandbox, "transactions", {"payment_link_id": link["id"], "amount": "70.00",
                                            "status": "pending"})
    _admin(sandbox, f"transactions/{paid['id']}/confirm")
    settled = _admin(sandbox, f"transactions/{paid['id']}/settle")
    failed = _admin(sandbox, "transactions", {"payment_link_id": link["id"], "amount": "5.00",
                                              "status": "failed"})
    _wait_for(lambda: len(receiver.got) == 3)

    for _, headers, body in receiver.got:
        assert headers["PIK-Signature"] == _signed(secret, body)
        assert headers["Content-Type"] == "application/json"
        reserialized = json.dumps(json.loads(body)).encode()
        assert headers["PIK-Signature"] != _signed(secret, reserialized)  # raw bytes only
    events = receiver.bodies()
    assert Counter(e["event"] for e in events) == dict.fromkeys(EVENTS, 1)
    assert len({e["id"] for e in events}) == 3
    assert all(e["id"].startswith("evt_") for e in events)
    by_kind = {e["event"]: e["data"] for e in events}
    assert by_kind["payment.settled"] == {
        "transaction_id": paid["id"], "payment_link_id": link["id"], "amount": "70.00",
        "currency": "USDT", "status": "settled", "confirmed_at": settled["confirmed_at"],
        "settled_at": settled["settled_at"], "tx_hash": settled["tx_hash"]}
    assert by_kind["payment.confirmed"]["status"] == "confirmed"
    assert by_kind["payment.confirmed"]["settled_at"] is None
    assert by_kind["payment.failed"]["transaction_id"] == failed["id"]
    assert (by_kind["payment.failed"]["status"], by_kind["payment.failed"]["tx_hash"]) == (
        "failed", None)


def test_only_the_events_an_endpoint_asked_for_reach_it(
        api: httpx.Client, sandbox: SandboxServer, receiver: Receiver) -> None:
    _register(api, receiver.url("/confirmed"), ["payment.confirmed"])
    _register(api, receiver.url("/all"))
    link = api.post("/payment-links", json={"amount": "1.00", "currency": "USDT"}).json()
    txn = _admin(sandbox, "transactions", {"payment_link_id": link["id"], "amount": "1.00"})
    _admin(sandbox, f"transactions/{txn['id']}/settle")
    _wait_for(lambda: len(receiver.got) == 3)
    time.sleep(0.3)
    paths = Counter((path, json.loads(body)["event"]) for path, _, body in receiver.got)
    assert paths == {("/confirmed", "payment.confirmed"): 1, ("/all", "payment.confirmed"): 1,
                     ("/all", "payment.settled"): 1}


def test_a_failing_endpoint_is_retried_on_pik_schedule_then_undelivered_and_replayed(
        api: httpx.Client, sandbox: SandboxServer, sandbox_state: SandboxState,
        receiver: Receiver) -> None:
    receiver.answer = lambda headers, body: 500
    _register(api, receiver.url(), ["payment.confirmed"])
    _pay_links(sandbox_state, 1)
    _wait_for(lambda: len(receiver.got) == 1)
    for number, delay in enumerate(SCHEDULE, start=2):
        _admin(sandbox, "clock", {"advance_seconds": delay - 2})
        time.sleep(0.3)
        assert len(receiver.got) == number - 1, f"attempt {number} came early"
        _admin(sandbox, "clock", {"advance_seconds": 3})
        _wait_for(lambda n=number: len(receiver.got) == n)

    _wait_for(lambda: _deliveries(sandbox)["deliveries"][0]["state"] == "undelivered")
    log = _deliveries(sandbox)["attempts"]
    assert [a["attempt"] for a in log] == [1, 2, 3, 4, 5, 6]
    waits = [(_when(b["due_at"]) - _when(a["finished_at"])).total_seconds()
             for a, b in itertools.pairwise(log)]
    assert waits == SCHEDULE  # each retry counted from the failed attempt
    assert {a["status_code"] for a in log} == {500}
    _admin(sandbox, "clock", {"advance_seconds": 10 * 86_400})
    time.sleep(0.3)
    assert len(receiver.got) == 6  # undelivered: no more tries by themselves

    receiver.answer = lambda headers, body: 200
    assert _admin(sandbox, "webhooks/replay")["replayed"] == 1
    _wait_for(lambda: _deliveries(sandbox)["deliveries"][0]["state"] == "delivered")
    assert len(receiver.got) == 7
    assert len({body for _, _, body in receiver.got}) == 1  # the same event every time


def test_an_answer_after_the_timeout_is_a_failure_and_is_retried(
        api: httpx.Client, sandbox: SandboxServer, sandbox_state: SandboxState,
        receiver: Receiver) -> None:
    _admin(sandbox, "config", {"webhook_timeout_seconds": 0.3})
    receiver.delay = 1.0
    _register(api, receiver.url(), ["payment.confirmed"])
    _pay_links(sandbox_state, 1)
    _wait_for(lambda: len(_deliveries(sandbox)["attempts"]) == 1)
    [first] = _deliveries(sandbox)["attempts"]
    assert (first["status_code"], first["error"]) == (None, "no answer within 0.3 s")
    assert _deliveries(sandbox)["deliveries"][0]["state"] == "queued"
    receiver.delay = 0
    _admin(sandbox, "clock", {"advance_seconds": 301})
    _wait_for(lambda: _deliveries(sandbox)["deliveries"][0]["state"] == "delivered")
    assert len(receiver.got) == 2  # the receiver saw the same event twice
    assert receiver.got[0][2] == receiver.got[1][2]


def test_the_webhook_clock_brings_retries_sooner(api: httpx.Client, sandbox: SandboxServer,
                                                 sandbox_state: SandboxState,
                                                 receiver: Receiver) -> None:
    _admin(sandbox, "config", {"webhook_clock_speed": 600})  # ten minutes a second
    receiver.answer = lambda headers, body: 500 if len(receiver.got) == 1 else 200
    _register(api, receiver.url(), ["payment.confirmed"])
    started = time.monotonic()
    _pay_links(sandbox_state, 1)
    _wait_for(lambda: _deliveries(sandbox)["deliveries"][0]["state"] == "delivered", 10)
    elapsed = time.monotonic() - started
    first, second = _deliveries(sandbox)["attempts"]
    assert (_when(second["due_at"]) - _when(first["finished_at"])).total_seconds() == 300
    assert 0.4 < elapsed < 5  # five minutes of the webhook clock in about half a second


def _settled_log(sandbox: SandboxServer, receiver: Receiver, events: int) -> dict[str, Any]:
    """Wait until every delivery is done (duplicates sent too); the delivery log."""
    def done() -> bool:
        log = _deliveries(sandbox)
        deliveries = log["deliveries"]
        dupes = sum(d["duplicate"] and d["state"] == "delivered" for d in deliveries)
        return (len(deliveries) == events
                and all(d["state"] in ("delivered", "lost") for d in deliveries)
                and sum(a["kind"] == "duplicate" for a in log["attempts"]) == dupes)
    _wait_for(done, 30)
    return _deliveries(sandbox)


def test_lost_deliveries_are_never_sent(api: httpx.Client, sandbox: SandboxServer,
                                        sandbox_state: SandboxState,
                                        receiver: Receiver) -> None:
    _admin(sandbox, "config", {"webhook_lost": 0.3})
    _register(api, receiver.url(), ["payment.confirmed"])
    _pay_links(sandbox_state, 200)
    log = _settled_log(sandbox, receiver, 200)
    lost = {d["event_id"] for d in log["deliveries"] if d["state"] == "lost"}
    received = Counter(body["id"] for body in receiver.bodies())
    assert 30 <= len(lost) <= 90
    assert set(received) == {d["event_id"] for d in log["deliveries"]} - lost
    assert max(received.values()) == 1


def test_duplicated_deliveries_arrive_twice(api: httpx.Client, sandbox: SandboxServer,
                                            sandbox_state: SandboxState,
                                            receiver: Receiver) -> None:
    _admin(sandbox, "config", {"webhook_duplicate": 0.3})
    _register(api, receiver.url(), ["payment.confirmed"])
    _pay_links(sandbox_state, 200)
    log = _settled_log(sandbox, receiver, 200)
    doubled = {d["event_id"] for d in log["deliveries"] if d["duplicate"]}
    received = Counter(body["id"] for body in receiver.bodies())
    assert 30 <= len(doubled) <= 90
    assert len(received) == 200
    assert {i for i, n in received.items() if n == 2} == doubled
    assert max(received.values()) == 2


def _late_arrivals(sandbox: SandboxServer, receiver: Receiver) -> tuple[list[str], set[str]]:
    """The events in the order they were made, and those that arrived after a later one."""
    events = [e["id"] for e in httpx.get(f"{sandbox.admin_url}/events").json()["data"]]
    place = {event_id: n for n, event_id in enumerate(events)}
    arrived = [body["id"] for body in receiver.bodies()]
    late = {event_id for i, event_id in enumerate(arrived)
            if any(place[before] > place[event_id] for before in arrived[:i])}
    return events, late


def test_with_one_in_flight_deliveries_arrive_in_the_order_of_their_events(
        api: httpx.Client, sandbox: SandboxServer, sandbox_state: SandboxState,
        receiver: Receiver) -> None:
    _admin(sandbox, "config", {"webhook_concurrency": 1})
    _register(api, receiver.url(), ["payment.confirmed"])
    _pay_links(sandbox_state, 100)
    _settled_log(sandbox, receiver, 100)
    events, late = _late_arrivals(sandbox, receiver)
    assert len(events) == len(receiver.got) == 100
    assert late == set()


def test_out_of_order_deliveries_arrive_after_later_ones(
        api: httpx.Client, sandbox: SandboxServer, sandbox_state: SandboxState,
        receiver: Receiver) -> None:
    _admin(sandbox, "config", {"webhook_concurrency": 1, "webhook_out_of_order": 0.3,
                               "webhook_hold_seconds": 2})
    _register(api, receiver.url(), ["payment.confirmed"])
    _pay_links(sandbox_state, 100)
    log = _settled_log(sandbox, receiver, 100)
    held = {d["event_id"] for d in log["deliveries"] if d["held"]}
    events, late = _late_arrivals(sandbox, receiver)
    arrived = [body["id"] for body in receiver.bodies()]
    last_unheld = max(n for n, event_id in enumerate(events) if event_id not in held)
    tail = {event_id for event_id in held if events.index(event_id) > last_unheld}
    assert 12 <= len(held) <= 50
    assert len(arrived) == 100
    assert late == held - tail  # held back until a later one went, or its hold was over
    assert [i for i in arrived if i not in held] == [i for i in events if i not in held]


def test_a_wrong_signature_switch_signs_with_the_wrong_key(
        api: httpx.Client, sandbox: SandboxServer, sandbox_state: SandboxState,
        receiver: Receiver) -> None:
    secret = _register(api, receiver.url(), ["payment.confirmed"])["secret"]
    receiver.answer = lambda headers, body: (
        200 if hmac.compare_digest(headers["PIK-Signature"], _signed(secret, body)) else 401)
    _admin(sandbox, "config", {"webhook_bad_signature": 1.0})
    _pay_links(sandbox_state, 5)
    _wait_for(lambda: len(_deliveries(sandbox)["attempts"]) == 5)
    log = _deliveries(sandbox)
    assert {a["status_code"] for a in log["attempts"]} == {401}
    assert all(a["bad_signature"] for a in log["attempts"])
    assert {d["state"] for d in log["deliveries"]} == {"queued"}  # refused, so retried later
    _admin(sandbox, "config", {"webhook_bad_signature": 0.0})
    _pay_links(sandbox_state, 1)
    _wait_for(lambda: len(_deliveries(sandbox)["attempts"]) == 6)
    assert _deliveries(sandbox)["attempts"][-1]["status_code"] == 200


def test_delivery_never_blocks_list_answers(api: httpx.Client, sandbox: SandboxServer,
                                            sandbox_state: SandboxState,
                                            receiver: Receiver) -> None:
    receiver.delay = 3.0
    _register(api, receiver.url(), ["payment.confirmed"])
    _pay_links(sandbox_state, 8)
    _wait_for(lambda: len(receiver.got) == 4)  # four in flight, each answered in 3 s
    answered = []
    for _ in range(10):
        started = time.monotonic()
        assert api.get("/transactions").status_code == 200
        answered.append(time.monotonic() - started)
    assert max(answered) < 0.5
    assert _deliveries(sandbox)["attempts"] == []  # none had finished meanwhile


def test_drift_sends_its_events_too(api: httpx.Client, sandbox_state: SandboxState,
                                    receiver: Receiver) -> None:
    secret = _register(api, receiver.url())["secret"]
    with sandbox_state.lock:
        for _ in range(50):
            sandbox_state.create("3.00", "USDT", None)
    for _ in range(60):  # the tests' drift: a change before every list request
        api.get("/transactions")
        api.get("/payment-links")
    _wait_for(lambda: len(receiver.got) >= 10)
    kinds = Counter(body["event"] for body in receiver.bodies())
    assert kinds["payment.confirmed"] >= 5
    assert all(h["PIK-Signature"] == _signed(secret, b) for _, h, b in receiver.got)
    for event in receiver.bodies():
        shown = api.get(f"/transactions/{event['data']['transaction_id']}").json()
        assert shown["status"] in {"payment.confirmed": ("confirmed", "settled"),
                                   "payment.settled": ("settled",),
                                   "payment.failed": ("failed",)}[event["event"]]
        assert event["data"]["payment_link_id"] == shown["payment_link_id"]

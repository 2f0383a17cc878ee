"""The sandbox's HTTP face: PIK's documented API plus /_admin endpoints, on loopback only."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import threading
from dataclasses import asdict, fields
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any, NoReturn

from aiohttp import web

from pik_recon.errors import UsageError
from pik_recon.money import currency_decimals
from pik_recon.sandbox import switches
from pik_recon.sandbox.payments import check_mix, generate_attempts, generate_transactions
from pik_recon.sandbox.state import (
    FAULT_KINDS,
    STATUSES,
    SUPPORTED_CURRENCIES,
    Faults,
    SandboxState,
    clock_offset,
    generate_links,
)

STATE_KEY = web.AppKey("state", SandboxState)
HTML_500 = b"<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>"


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None
           ) -> web.Response:
    body = json.dumps({"error": {"code": code, "message": message}})
    return web.Response(status=status, text=body, content_type="application/json",
                        headers=headers)


def _json(status: int, payload: Any) -> web.Response:
    return web.Response(status=status, body=json.dumps(payload).encode(),
                        content_type="application/json")


def _drop(request: web.Request) -> NoReturn:
    """Drop the connection with no response, as a broken network would."""
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError


async def _guard(request: web.Request, state: SandboxState, bucket: str
                 ) -> tuple[web.Response | None, str | None]:
    """Auth, rate limits and injected faults. Returns (early response, fault to apply after)."""
    auth = request.headers.get("Authorization", "")
    if auth != f"Bearer {state.api_key}":
        with state.lock:
            state.log.refused_keys += 1
        return _error(401, "unauthorized", "Missing or invalid API key."), None
    faults = state.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    with state.lock:
        fault = None
        if faults.rate and state.rng.random() < faults.rate:
            fault = state.rng.choice(faults.kinds)
            state.log.fault_counts[fault] += 1
        wait = state.take_rate_slot(bucket)
        if wait is not None:
            state.log.limited_429 += 1
            seconds = str(max(1, int(wait + 0.999)))
            return _error(429, "rate_limited", "Too many requests.",
                          {"Retry-After": seconds}), None
    if fault == "latency":
        await asyncio.sleep(faults.fault_latency_ms / 1000)
    elif fault == "429":
        return _error(429, "rate_limited", "Too many requests.",
                      {"Retry-After": str(faults.retry_after_seconds)}), None
    elif fault == "429_no_retry_after":
        return _error(429, "rate_limited", "Too many requests."), None
    elif fault == "500_html":
        return web.Response(status=502, body=HTML_500, content_type="text/html"), None
    elif fault == "drop":
        _drop(request)
    return None, fault


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise ValueError(f"'{name}' must be a non-negative integer")
    return int(raw)


async def list_links(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    with state.lock:
        state.log.counts["GET /payment-links"] += 1
    early, fault = await _guard(request, state, "general")
    if early is not None:
        return early
    status = request.query.get("status") or None
    try:
        limit = _int_param(request, "limit", 20)
        offset = _int_param(request, "offset", 0)
    except ValueError as exc:
        return _error(400, "invalid_request", str(exc))
    if not 1 <= limit <= 100:
        return _error(400, "invalid_request", "'limit' must be between 1 and 100")
    if status is not None and status not in STATUSES:
        return _error(400, "invalid_request", f"'status' must be one of {', '.join(STATUSES)}")
    with state.lock:
        state.expire_due()
        state.drift_before_list()
        items, total = state.page(status, offset, limit)
        data = b",".join(link.json_bytes() for link in items)
        if fault != "lost_response":
            state.log.list_requests += 1
    if fault == "lost_response":
        _drop(request)
    body = b'{"data":[' + data + b'],"total":%d,"limit":%d,"offset":%d}' % (total, limit, offset)
    return web.Response(status=200, body=body, content_type="application/json")


async def get_link(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    with state.lock:
        state.log.counts["GET /payment-links/{id}"] += 1
    early, fault = await _guard(request, state, "general")
    if early is not None:
        return early
    with state.lock:
        state.expire_due()
        link_id = request.match_info["link_id"]
        link = state.links.get(link_id) or state.uncounted.get(link_id)
        body = link.json_bytes() if link is not None else None
        if fault != "lost_response":
            state.log.link_requests += 1
    if fault == "lost_response":
        _drop(request)
    if body is None:
        return _error(404, "not_found", "No payment link with that id.")
    return web.Response(status=200, body=body, content_type="application/json")


def _validate_create(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return "body must be a JSON object"
    amount, currency = payload.get("amount"), payload.get("currency")
    description = payload.get("description")
    if not isinstance(amount, str):
        return "'amount' must be a decimal string"
    if not isinstance(currency, str) or currency not in SUPPORTED_CURRENCIES:
        return f"'currency' must be one of {', '.join(SUPPORTED_CURRENCIES)}"
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return "'amount' must be a decimal string"
    if not value.is_finite() or value <= 0:
        return "'amount' must be positive"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > currency_decimals(currency):
        return f"'amount' has more decimals than {currency} allows"
    if description is not None and (not isinstance(description, str) or len(description) > 255):
        return "'description' must be a string of at most 255 characters"
    return None


async def create_link(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    with state.lock:
        state.log.counts["POST /payment-links"] += 1
    early, fault = await _guard(request, state, "create")
    if early is not None:
        return early
    try:
        payload = json.loads(await request.read())
    except ValueError:
        return _error(400, "invalid_request", "body is not valid JSON")
    problem = _validate_create(payload)
    if problem:
        return _error(422, "unprocessable_entity", problem)
    with state.lock:
        link = state.create(payload["amount"], payload["currency"], payload.get("description"))
        state.log.posts.append({"id": link.id, "description": link.description,
                                "amount": link.amount, "currency": link.currency,
                                "answered": fault != "lost_response"})
        body = link.json_bytes()
    if fault == "lost_response":
        _drop(request)
    return web.Response(status=201, body=body, content_type="application/json")


# --- admin ---------------------------------------------------------------------------------
async def admin_state(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    with state.lock:
        return _json(200, {"counts": state.counts(), "now": state.now().isoformat(),
                           "requests": dict(state.log.counts),
                           "limited_429": state.log.limited_429,
                           "refused_keys": state.log.refused_keys,
                           "served": {"list": state.log.list_requests,
                                      "link": state.log.link_requests,
                                      "transaction_list": state.transactions.served_lists,
                                      "transaction": state.transactions.served_single},
                           "faults_served": dict(state.log.fault_counts),
                           "posts": len(state.log.posts),
                           "config": {**asdict(state.faults), **switches.current(state)},
                           **switches.payment_summary(state)})


async def admin_config(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    payload = await request.json()
    try:
        apply_fault_settings(state, payload)
    except ValueError as exc:
        return _error(400, "invalid_request", str(exc))
    return _json(200, {**asdict(state.faults), **switches.current(state)})


def apply_fault_settings(state: SandboxState, payload: dict[str, Any]) -> None:
    """Change fault switches by name; unknown names or fault kinds are refused."""
    known = {f.name for f in fields(Faults)} | switches.PAYMENT_SETTINGS
    unknown = set(payload) - known
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")
    kinds = payload.get("kinds")
    if kinds is not None and not set(kinds) <= set(FAULT_KINDS):
        raise ValueError(f"fault kinds must be among {FAULT_KINDS}")
    if "clock_offset_seconds" in payload:
        clock_offset(payload["clock_offset_seconds"])
    payments = {k: v for k, v in payload.items() if k in switches.PAYMENT_SETTINGS}
    for name, value in payments.items():
        switches.checked(name, value)
    wait = payload.get("retry_after_seconds", 0)
    if not isinstance(wait, int) or isinstance(wait, bool) or wait < 0:
        raise ValueError("retry_after_seconds must be a whole number of seconds >= 0")
    with state.lock:
        switches.apply_payment_settings(state, payments)
        for name, value in payload.items():
            if name in payments:
                continue
            if name == "ordering":
                state.set_ordering(value)
            elif name == "hidden_links":
                state.set_hidden(int(value))
            else:
                setattr(state.faults, name, tuple(value) if name == "kinds" else value)


async def admin_link_action(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    action = request.match_info["action"]
    target = {"pay": "paid", "expire": "expired", "deactivate": "deactivated",
              "lose": "lost", "uncount": "uncounted"}.get(action)
    with state.lock:
        link = state.links.get(request.match_info["link_id"])
        if link is None or target is None:
            return _error(404, "not_found", "no such link or action")
        if action in ("lose", "uncount"):
            state.remove(link, by_id=action == "uncount")
            return _json(200, {target: link.id})
        if link.status != "active":
            return _error(422, "unprocessable_entity", f"link is already {link.status}")
        state.set_status(link, target)
        return web.Response(status=200, body=link.json_bytes(), content_type="application/json")


async def admin_clock(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    payload = await request.json()
    with state.lock:
        expired = state.advance_clock(float(payload.get("advance_seconds", 0)))
        settled = state.transactions.settle_due()
    return _json(200, {"now": state.now().isoformat(), "expired": expired, "settled": settled})


async def admin_generate(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    payload = await request.json()
    share, mix = payload.get("active_share"), payload.get("tx_mix", {})
    try:
        shares = None if mix == "none" else check_mix(mix)
    except (ValueError, AttributeError, TypeError):
        return _error(400, "invalid_request", "'tx_mix' must be \"none\" or an object of "
                      "case: share (see the README)")
    count = int(payload.get("count", 0))
    with state.lock:
        generate_links(state, count, active_share=float(share) if share is not None else None)
        if shares is not None:
            generate_transactions(state, islice(reversed(state.links.values()), count), shares)
        generate_attempts(state, int(payload.get("transactions", 0)))
        return _json(200, {"counts": state.counts(), **switches.payment_summary(state)})


async def admin_simulate_day(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    payload = await request.json()
    with state.lock:
        done = state.simulate_day(int(payload.get("new", 0)), int(payload.get("changes", 0)),
                                  float(payload.get("old_ratio", 0.1)),
                                  bool(payload.get("advance", True)),
                                  bool(payload.get("anywhere", False)))
    return _json(200, {**done, "counts": state.counts()})


async def admin_inject(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    payload = await request.json()
    with state.lock:
        if payload.get("kind") == "transaction":
            txn = state.transactions.inject_raw(payload["record"],
                                                payload.get("status", "settled"))
            return _json(200, {"id": txn.id})
        link = state.inject_raw(payload["record"], payload.get("status", "paid"))
    return _json(200, {"id": link.id})


def build_app(state: SandboxState) -> web.Application:
    from pik_recon.sandbox.payments_api import add_payment_routes  # its handlers use _guard

    app = web.Application(client_max_size=1024 * 1024)
    app[STATE_KEY] = state
    app.router.add_get("/v1/payment-links", list_links)
    app.router.add_post("/v1/payment-links", create_link)
    app.router.add_get("/v1/payment-links/{link_id}", get_link)
    app.router.add_get("/_admin/state", admin_state)
    app.router.add_post("/_admin/config", admin_config)
    app.router.add_post("/_admin/links/{link_id}/{action}", admin_link_action)
    app.router.add_post("/_admin/clock", admin_clock)
    app.router.add_post("/_admin/generate", admin_generate)
    app.router.add_post("/_admin/inject", admin_inject)
    app.router.add_post("/_admin/simulate-day", admin_simulate_day)
    add_payment_routes(app)
    return app


def check_loopback(host: str) -> None:
    """The sandbox serves loopback only."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValueError(f"the sandbox listens on loopback only, not {host}")


class SandboxServer:
    """The sandbox on a loopback port, in a background thread with its own event loop."""

    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0) -> None:
        check_loopback(host)
        self.state = state
        self.host, self.port = host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="pik-sandbox")
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def admin_url(self) -> str:
        return f"http://{self.host}:{self.port}/_admin"

    async def _start(self) -> None:
        self._runner = web.AppRunner(build_app(self.state), access_log=None,
                                     handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self) -> SandboxServer:
        """Listen; a port already in use is a UsageError naming it."""
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        except OSError as exc:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"--port {self.port}: {self.host}:{self.port} is in use by "
                                 "another program; choose another port, or --port 0 for any "
                                 "free one") from None
            raise UsageError(f"the sandbox cannot listen on {self.host}:{self.port}: "
                             f"{exc.strerror}") from None
        return self

    def stop(self) -> None:
        """Stop listening (the port refuses connections from then on); once is enough."""
        if not self._thread.is_alive():
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Transactions and webhooks over HTTP: PIK's documented endpoints and their /_admin ones."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import suppress
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from pik_recon.sandbox.server import STATE_KEY, _drop, _error, _guard, _int_param, _json
from pik_recon.sandbox.state import SUPPORTED_CURRENCIES, SandboxState
from pik_recon.sandbox.transactions import TX_STATUSES, Transaction, TxQuery, micros

ACTIONS = ("confirm", "settle", "fail", "lose")


def _bound(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"'{name}' must be an ISO 8601 time such as 2026-11-01T00:00:00Z"
                         ) from None
    return micros(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def transaction_query(request: web.Request) -> tuple[TxQuery, int, int]:
    """The filters, limit and offset of a GET /transactions; ValueError naming the
    parameter that is wrong."""
    limit = _int_param(request, "limit", 20)
    offset = _int_param(request, "offset", 0)
    if not 1 <= limit <= 100:
        raise ValueError("'limit' must be between 1 and 100")
    status = request.query.get("status") or None
    if status is not None and status not in TX_STATUSES:
        raise ValueError(f"'status' must be one of {', '.join(TX_STATUSES)}")
    currency = request.query.get("currency") or None
    if currency is not None and currency not in SUPPORTED_CURRENCIES:
        raise ValueError(f"'currency' must be one of {', '.join(SUPPORTED_CURRENCIES)}")
    start, end = _bound(request, "from"), _bound(request, "to")
    if start is not None and end is not None and start > end:
        raise ValueError("'from' must not be after 'to'")
    query = TxQuery(status=status, payment_link_id=request.query.get("payment_link_id") or None,
                    currency=currency, start=start, end=end)
    return query, limit, offset


async def list_transactions(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    with state.lock:
        state.log.counts["GET /transactions"] += 1
    early, fault = await _guard(request, state, "general")
    if early is not None:
        return early
    try:
        query, limit, offset = transaction_query(request)
    except ValueError as exc:
        return _error(400, "invalid_request", str(exc))
    book = state.transactions
    with state.lock:
        state.expire_due()
        book.settle_due()
        book.drift_before_list()
        items, total = book.page(query, offset, limit)
        data = b",".join(txn.json_bytes() for txn in items)
        if fault != "lost_response":
            book.served_lists += 1
    if fault == "lost_response":
        _drop(request)
    body = b'{"data":[' + data + b'],"total":%d,"limit":%d,"offset":%d}' % (total, limit, offset)
    return web.Response(status=200, body=body, content_type="application/json")


async def get_transaction(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    with state.lock:
        state.log.counts["GET /transactions/{id}"] += 1
    early, fault = await _guard(request, state, "general")
    if early is not None:
        return early
    with state.lock:
        state.transactions.settle_due()
        txn = state.transactions.by_id.get(request.match_info["txn_id"])
        body = txn.json_bytes() if txn is not None else None
        if fault != "lost_response":
            state.transactions.served_single += 1
    if fault == "lost_response":
        _drop(request)
    if body is None:
        return _error(404, "not_found", "No transaction with that id.")
    return web.Response(status=200, body=body, content_type="application/json")


async def create_webhook(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    with state.lock:
        state.log.counts["POST /webhooks"] += 1
    early, fault = await _guard(request, state, "general")
    if early is not None:
        return early
    try:
        payload = json.loads(await request.read())
    except ValueError:
        return _error(400, "invalid_request", "body is not valid JSON")
    if not isinstance(payload, dict):
        return _error(400, "invalid_request", "body must be a JSON object")
    with state.lock:
        try:
            endpoint = state.webhooks.register(payload.get("url"), payload.get("events"))
        except ValueError as exc:
            return _error(400, "invalid_request", str(exc))
        shown = {**endpoint.as_dict(), "secret": endpoint.secret}
    if fault == "lost_response":
        _drop(request)
    return _json(201, shown)


async def list_webhooks(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    with state.lock:
        state.log.counts["GET /webhooks"] += 1
    early, fault = await _guard(request, state, "general")
    if early is not None:
        return early
    try:
        limit, offset = _int_param(request, "limit", 20), _int_param(request, "offset", 0)
    except ValueError as exc:
        return _error(400, "invalid_request", str(exc))
    if not 1 <= limit <= 100:
        return _error(400, "invalid_request", "'limit' must be between 1 and 100")
    with state.lock:
        endpoints = list(state.webhooks.endpoints.values())
        page = [e.as_dict() for e in endpoints[offset:offset + limit]]
    if fault == "lost_response":
        _drop(request)
    return _json(200, {"data": page, "total": len(endpoints), "limit": limit,
                       "offset": offset})


# --- admin ---------------------------------------------------------------------------------
def _new_transaction(state: SandboxState, payload: Any) -> Transaction:
    """Pay a link by hand (or a link PIK does not have, given a currency); ValueError for
    what is wrong."""
    if not isinstance(payload, dict):
        raise ValueError("body must be a JSON object")
    link_id = payload.get("payment_link_id")
    if not isinstance(link_id, str) or not link_id:
        raise ValueError("'payment_link_id' must be a link's id")
    link = state.links.get(link_id)
    currency = payload.get("currency") or (link.currency if link is not None else None)
    if not isinstance(currency, str):
        raise ValueError("'payment_link_id' must name a link, or 'currency' be given")
    amount = payload.get("amount")
    try:
        value = Decimal(amount) if isinstance(amount, str) else Decimal("NaN")
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value <= 0:
        raise ValueError("'amount' must be a positive decimal string")
    status = payload.get("status", "confirmed")
    if status not in TX_STATUSES:
        raise ValueError(f"'status' must be one of {', '.join(TX_STATUSES)}")
    book = state.transactions
    txn = book.open(link_id, amount, currency)
    txn.settles = not payload.get("never_settles", False)
    if status == "failed":
        book.fail(txn)
    elif status != "pending":
        book.confirm(txn)
        if status == "settled":
            book.settle(txn)
    return txn


async def admin_create_transaction(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    payload = await request.json()
    with state.lock:
        try:
            txn = _new_transaction(state, payload)
        except ValueError as exc:
            return _error(400, "invalid_request", str(exc))
        return web.Response(status=201, body=txn.json_bytes(), content_type="application/json")


async def admin_transaction_action(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    action = request.match_info["action"]
    with state.lock:
        txn = state.transactions.by_id.get(request.match_info["txn_id"])
        if txn is None or action not in ACTIONS:
            return _error(404, "not_found", "no such transaction or action")
        try:
            getattr(state.transactions, action)(txn)
        except ValueError as exc:
            return _error(422, "unprocessable_entity", str(exc))
        return web.Response(status=200, body=txn.json_bytes(), content_type="application/json")


async def admin_cases(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    with state.lock:
        return _json(200, state.transactions.cases)


async def admin_deliveries(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    with state.lock:
        hub = state.webhooks
        return _json(200, {"attempts": hub.log,
                           "deliveries": [d.as_dict() for d in hub.deliveries],
                           "clock": hub.clock().isoformat()})


async def admin_events(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    with state.lock:
        return _json(200, {"data": [e.as_dict() for e in state.webhooks.events]})


async def admin_replay(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    payload = await request.json() if request.can_read_body else {}
    with state.lock:
        return _json(200, {"replayed": state.webhooks.replay(payload.get("event_id"))})


async def _delivering(app: web.Application) -> AsyncIterator[None]:
    pump = asyncio.create_task(app[STATE_KEY].webhooks.run())
    yield
    pump.cancel()
    with suppress(asyncio.CancelledError):
        await pump


def add_payment_routes(app: web.Application) -> None:
    app.router.add_get("/v1/transactions", list_transactions)
    app.router.add_get("/v1/transactions/{txn_id}", get_transaction)
    app.router.add_post("/v1/webhooks", create_webhook)
    app.router.add_get("/v1/webhooks", list_webhooks)
    app.router.add_post("/_admin/transactions", admin_create_transaction)
    app.router.add_get("/_admin/transactions/cases", admin_cases)
    app.router.add_post("/_admin/transactions/{txn_id}/{action}", admin_transaction_action)
    app.router.add_get("/_admin/deliveries", admin_deliveries)
    app.router.add_get("/_admin/events", admin_events)
    app.router.add_post("/_admin/webhooks/replay", admin_replay)
    app.cleanup_ctx.append(_delivering)

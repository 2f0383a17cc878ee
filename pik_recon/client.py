"""The PIK API client: httpx, a client-side rate limiter, retries, and typed errors.

httpx's exceptions stop here: everything above sees only pik_recon.errors.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import httpx
import orjson
import simdjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from pik_recon import __version__
from pik_recon.config import PikSettings, Secret
from pik_recon.errors import (
    ApiError,
    AuthError,
    ConfigError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    RateLimitedError,
    RetryAfterTooLongError,
    ServerError,
    TransportError,
)
from pik_recon.logs import get_logger

log = get_logger("client")
LINKS_PATH = "/payment-links"
TRANSACTIONS_PATH = "/transactions"
WEBHOOKS_PATH = "/webhooks"
PAGE_LIMIT = 100
LONG_WAIT_SECONDS = 5.0  # a wait longer than this is logged and shown on the progress bar


def check_base_url(base_url: str) -> str:
    """HTTPS only, except to a loopback host (the sandbox)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return base_url.rstrip("/")
    if parts.scheme == "http" and host:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if loopback:
            return base_url.rstrip("/")
        raise ConfigError(f"PIK base URL {base_url}: plain http:// is refused for {host}; "
                          "use https:// (http is allowed only for a loopback sandbox)")
    raise ConfigError(f"PIK base URL {base_url!r} is not an https:// URL")


def environment_proxy(base_url: str) -> str | None:
    """The proxy the environment names for an https:// base URL (HTTPS_PROXY, else
    ALL_PROXY), unless NO_PROXY exempts its host. A plain http:// base URL (a loopback
    sandbox) never goes through a proxy: the key would travel in clear to it."""
    parts = urlsplit(base_url)
    if parts.scheme != "https":
        return None
    proxies = getproxies()
    if not proxies or proxy_bypass(parts.hostname or ""):
        return None
    return proxies.get(parts.scheme) or proxies.get("all")


class RateLimiter:
    """At most `per_minute` requests in any rolling 60-second window, shared by all tasks.
    `sleep(seconds, reason)` does its waiting (the client shows the long ones); `clock`
    tells the time, in seconds."""

    MARGIN_SECONDS = 0.5  # our send time precedes PIK's arrival time; stay clear of its window

    def __init__(self, per_minute: int, enabled: bool = True,
                 sleep: Callable[[float, str], Awaitable[None]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.enabled = enabled
        self._sleep = sleep or (lambda seconds, _: asyncio.sleep(seconds))
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._paused_until = 0.0
        self._clock = clock

    def pause(self, seconds: float) -> None:
        """Hold every caller back after a 429 (PIK's Retry-After, never beyond the client's
        max_retry_after_seconds: a longer one ends the command instead)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    async def acquire(self) -> None:
        if not self.enabled and self._paused_until <= self._clock():
            return  # no limit to keep and no 429 to wait out: no need to queue
        async with self._lock:
            while True:
                now = self._clock()
                if self._paused_until > now:
                    await self._sleep(self._paused_until - now, "PIK asked")
                    continue
                if not self.enabled:
                    return
                window = 60.0 + self.MARGIN_SECONDS
                while self._sent and self._sent[0] <= now - window:
                    self._sent.popleft()
                if len(self._sent) < self.per_minute:
                    self._sent.append(now)
                    return
                await self._sleep(self._sent[0] + window - now,
                                  f"keeping to {self.per_minute} requests a minute")


@dataclass
class ClientStats:
    """Requests a caller sent: every attempt, and how many of them were retries."""

    sent: int = 0
    retries: int = 0


@dataclass(frozen=True)
class Page:
    """A list response: PIK's total, how many records it holds, and the body as PIK sent it
    (the warehouse reads the records from it in bulk). The records are decoded in Python only
    when asked for."""

    total: int
    count: int
    raw: bytes

    @cached_property
    def data(self) -> list[Any]:
        records: list[Any] = _json_body(self.raw)["data"]
        return records


def single_page(record: Any) -> Page:
    """A record fetched by id, as a page of one (the warehouse reads every record as pages)."""
    return Page(1, 1, orjson.dumps({"data": [record]}))


def _page(content: bytes) -> Page | None:
    """The body as a Page, or None when it is not a list response. simdjson reads the
    envelope and counts the records without building them as Python objects (a sixth of the
    cost of decoding the page); what it refuses (NaN, integers beyond 64 bits, bad UTF-8) the
    ordinary decoder judges."""
    try:
        doc: Any = simdjson.Parser().parse(content)
        records_type: type = simdjson.Array
    except (ValueError, RuntimeError):
        doc, records_type = _json_body(content), list
    if not isinstance(doc, dict | simdjson.Object):
        return None
    data, total = doc.get("data"), doc.get("total")
    if not isinstance(data, records_type) or not isinstance(total, int):
        return None
    return Page(total, len(data), content)


@dataclass(frozen=True)
class Expected:
    """What a successful answer must be: `read` turns the body into it, or None."""

    read: Callable[[bytes], Any]
    what: str


def _json_body(content: bytes) -> Any:
    """The body's JSON, or None. orjson first; what it refuses (NaN, integers beyond 64 bits)
    the standard library may still read."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        try:
            return json.loads(content)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None


JSON = Expected(_json_body, "JSON")
LISTS = {path: Expected(_page, f"a list of {what} (JSON with 'data' and 'total')")
         for path, what in ((LINKS_PATH, "links"), (TRANSACTIONS_PATH, "transactions"))}


class PikClient:
    """Async PIK API client; use as `async with PikClient(...) as client:`."""

    def __init__(self, settings: PikSettings, api_key: Secret, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 on_wait: Callable[[str | None], None] | None = None) -> None:
        """`on_wait` is told of every long wait while it lasts ("waiting 30 s: PIK asked"),
        then None (for a progress bar)."""
        self.settings = settings
        self.key_name = api_key.name  # where the key came from, for messages
        self.base_url = check_base_url(settings.base_url)
        self.stats = ClientStats()
        self._on_wait = on_wait
        self._waits: list[str] = []  # the long waits under way, latest last
        self.general = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_enabled,
                                   self._sleep)
        self.creation = RateLimiter(settings.create_rate_limit_per_minute,
                                    settings.rate_limit_enabled, self._sleep)
        timeout = httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds)
        limits = httpx.Limits(max_connections=max(settings.concurrency * 2, 10),
                              max_keepalive_connections=max(settings.concurrency * 2, 10))
        # Requests go straight to the transport: the PIK API needs no cookies, redirects or
        # auth flows, and skipping httpx.AsyncClient's handling of them makes a request about a
        # quarter cheaper in CPU, which a sync of 10,000 pages feels.
        self._transport = transport or httpx.AsyncHTTPTransport(
            limits=limits, proxy=environment_proxy(self.base_url))
        # httpx masks the Authorization header wherever it shows headers
        self._headers = httpx.Headers({"User-Agent": f"pik-recon/{__version__}",
                                       "Accept": "application/json",
                                       "Accept-Encoding": "gzip, deflate",
                                       "Authorization": f"Bearer {api_key.reveal()}"})
        self._extensions = {"timeout": timeout.as_dict()}

    async def __aenter__(self) -> PikClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._transport.aclose()

    # --- the API ---------------------------------------------------------------------------
    async def list_page(self, status: str | None, offset: int | Callable[[], int],
                        limit: int = PAGE_LIMIT, *, path: str = LINKS_PATH,
                        stats: ClientStats | None = None) -> Page:
        """One page of a list, links unless `path` names another (status None: every
        record). `offset` may be a function, asked again before every attempt: a page
        retried while the list moves is re-aimed. `stats`: where the attempts are counted
        (else the client's own)."""

        def params() -> dict[str, Any]:
            chosen = {"limit": limit, "offset": offset() if callable(offset) else offset}
            return {**chosen, "status": status} if status else chosen

        page: Page = await self._with_retries("GET", path, params=params, expect=LISTS[path],
                                              stats=stats)
        return page

    async def get_one(self, path: str, record_id: str, *, stats: ClientStats | None = None
                      ) -> dict[str, Any]:
        """One record of the list at `path` by its id; NotFoundError for a 404."""
        body = await self._with_retries("GET", f"{path}/{record_id}", stats=stats)
        if not isinstance(body, dict):
            raise MalformedResponseError(f"GET {path}/{{id}}: the answer is not an object",
                                         method="GET", path=f"{path}/{{id}}")
        return body

    async def create_link(self, amount: str, currency: str, description: str | None
                          ) -> dict[str, Any]:
        """POST one link. Retries only what certainly created nothing (429, refused).

        A timeout, dropped connection or 5xx after sending raises TransportError/ServerError:
        the caller must find out on PIK whether the link exists before trying again.
        """
        payload: dict[str, Any] = {"amount": amount, "currency": currency}
        if description is not None:
            payload["description"] = description
        body = await self._with_retries("POST", LINKS_PATH, json_body=payload,
                                        retry_unsent_only=True)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise MalformedResponseError("create response lacks 'id'", method="POST",
                                         path="/payment-links")
        return body

    async def register_webhook(self, url: str, events: list[str]) -> WebhookEndpoint:
        """POST /webhooks. Retries only what certainly registered nothing: PIK answers the
        secret once, so an answer lost after sending leaves the caller to look (GET)."""
        body = await self._with_retries("POST", WEBHOOKS_PATH,
                                        json_body={"url": url, "events": events},
                                        retry_unsent_only=True)
        endpoint = _endpoint(body)
        secret = body.get("secret") if isinstance(body, dict) else None
        if endpoint is None or not isinstance(secret, str) or not secret.startswith("whsec_"):
            raise MalformedResponseError("the registration's answer lacks the endpoint's id or "
                                         "its whsec_ secret", method="POST", path=WEBHOOKS_PATH)
        return dataclasses.replace(endpoint, secret=Secret(secret, "the webhook secret"))

    async def list_webhooks(self) -> list[WebhookEndpoint]:
        """GET /webhooks: the endpoints registered (their secrets are never listed)."""
        body = await self._with_retries("GET", WEBHOOKS_PATH)
        records = body.get("data") if isinstance(body, dict) else body
        endpoints = [_endpoint(r) for r in records] if isinstance(records, list) else [None]
        if any(e is None for e in endpoints):
            raise MalformedResponseError("GET /webhooks is not a list of endpoints",
                                         method="GET", path=WEBHOOKS_PATH)
        return [e for e in endpoints if e is not None]

    # --- plumbing ------------------------------------------------------------------------
    async def _sleep(self, seconds: float, reason: str) -> None:
        """Wait; one longer than LONG_WAIT_SECONDS is logged and shown while it lasts."""
        if seconds <= LONG_WAIT_SECONDS:
            await asyncio.sleep(seconds)
            return
        note = f"waiting {duration_text(seconds)}: {reason}"
        log.info("%s", note)
        self._waits.append(note)
        self._show_wait()
        try:
            await asyncio.sleep(seconds)
        finally:
            self._waits.remove(note)
            self._show_wait()

    def _show_wait(self) -> None:
        if self._on_wait is not None:
            self._on_wait(self._waits[-1] if self._waits else None)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after_seconds is not None:
            return 0.0  # the limiter holds this request, and every other, until then
        base = self.settings.backoff_base_seconds * 2 ** (state.attempt_number - 1)
        return random.uniform(0, min(base, self.settings.backoff_cap_seconds))

    def _before_sleep(self, state: RetryCallState, stats: ClientStats) -> None:
        stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.retry_after_seconds if isinstance(exc, RateLimitedError) else None
        when = (f"once the {duration_text(asked)} PIK asked for have passed" if asked
                else f"in {duration_text(state.next_action.sleep if state.next_action else 0)}")
        log.info("retry %d of %d %s: %s", state.attempt_number, self.settings.max_retries,
                 when, exc)
        log.debug("what was retried (attempt %d)", state.attempt_number, exc_info=exc)

    async def _with_retries(self, method: str, path: str, *,
                            params: Callable[[], dict[str, Any]] | None = None,
                            json_body: Any = None, retry_unsent_only: bool = False,
                            expect: Expected = JSON, stats: ClientStats | None = None) -> Any:
        counted = stats or self.stats

        def retryable(exc: BaseException) -> bool:
            if retry_unsent_only:
                return isinstance(exc, RateLimitedError) or (
                    isinstance(exc, TransportError) and not exc.sent)
            return isinstance(exc, ApiError) and exc.transient

        # The first try goes out directly (the common case costs no retry machinery); after a
        # failure worth retrying, tenacity replays that failure as its own first attempt, so
        # its count, backoff and Retry-After handling are those of an ordinary retry loop.
        try:
            return await self._request(method, path, params, json_body, expect, counted)
        except ApiError as exc:
            if not retryable(exc):
                raise
            failed: ApiError | None = exc
        last: list[BaseException | None] = [failed]  # what a backoff waits after, to say so

        def before_sleep(state: RetryCallState) -> None:
            last[0] = state.outcome.exception() if state.outcome else None
            self._before_sleep(state, counted)

        async def backoff(seconds: float) -> None:
            await self._sleep(seconds, f"backing off after {last[0]}")

        retrying = AsyncRetrying(retry=retry_if_exception(retryable),
                                 stop=stop_after_attempt(self.settings.max_retries + 1),
                                 wait=self._wait, before_sleep=before_sleep, sleep=backoff,
                                 reraise=True)
        async for attempt in retrying:
            with attempt:
                if failed is not None:
                    replay, failed = failed, None
                    raise replay
                return await self._request(method, path, params, json_body, expect, counted)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _request(self, method: str, path: str,
                       params: Callable[[], dict[str, Any]] | None, json_body: Any,
                       expect: Expected, stats: ClientStats) -> Any:
        limiter = self.creation if method == "POST" and path == LINKS_PATH else self.general
        await limiter.acquire()
        stats.sent += 1
        query = f"?{urlencode(params())}" if params else ""
        request = httpx.Request(method, self.base_url + path + query, headers=self._headers,
                                json=json_body, extensions=self._extensions)
        try:
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise self._translate(exc, method, path) from None
        return self._decode(response, method, path, limiter, expect)

    def _translate(self, exc: httpx.HTTPError, method: str, path: str) -> ApiError:
        """httpx's error as pik-recon's (`_HTTPX_ERRORS`), at this one boundary."""
        for kind, make in _HTTPX_ERRORS:
            if isinstance(exc, kind):
                return make(exc, self.base_url, method, path)
        return TransportError(f"{method} {path}: the request failed ({type(exc).__name__})",
                              method=method, path=path)

    def _decode(self, response: httpx.Response, method: str, path: str,
                limiter: RateLimiter, expect: Expected) -> Any:
        status = response.status_code
        where = {"status": status, "method": method, "path": path}
        if 200 <= status < 300:
            answer = expect.read(response.content)
            if answer is None:
                raise MalformedResponseError(
                    f"{method} {path}: PIK answered {status} with a body that is not "
                    f"{expect.what}", **where)
            return answer
        body = _json_body(response.content)
        message = _error_message(body) or f"HTTP {status}"
        if status in (401, 403):
            raise AuthError(
                f"PIK refused the API key ({status}: {message}). Check {self.key_name} and "
                "its permissions.", **where)
        if status == 404:
            raise NotFoundError(f"{method} {path}: not found", **where)
        if status == 429:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            cap = self.settings.max_retry_after_seconds
            if retry_after is not None and retry_after > cap:
                raise RetryAfterTooLongError(
                    f"PIK asks to wait {duration_text(retry_after)}; try later ({method} {path} "
                    f"answered 429 with Retry-After: {retry_after:g}, more than [pik] "
                    f"max_retry_after_seconds = {cap:g})", **where)
            if retry_after is not None:
                limiter.pause(retry_after)
            raise RateLimitedError(f"{method} {path}: rate limited by PIK",
                                   retry_after_seconds=retry_after, **where)
        if status >= 500:
            kind = "an HTML page" if body is None else message
            raise ServerError(f"{method} {path}: PIK server error {status} ({kind})",
                              **where)
        raise InvalidRequestError(f"{method} {path}: PIK rejected the request "
                                  f"({status}: {message})", **where)


# httpx's errors, most specific first: whether the request may have reached PIK decides
# whether a POST may be sent again (`sent`).
_HTTPX_ERRORS: tuple[tuple[type[httpx.HTTPError], Callable[..., ApiError]], ...] = (
    (httpx.ConnectTimeout, lambda exc, base, method, path: TransportError(
        f"connecting to {base} timed out", sent=False, method=method, path=path)),
    (httpx.ConnectError, lambda exc, base, method, path: TransportError(
        f"cannot connect to {base}: {exc}", sent=False, method=method, path=path)),
    (httpx.TimeoutException, lambda exc, base, method, path: TransportError(
        f"{method} {path} timed out waiting for PIK", timed_out=True, method=method,
        path=path)),
    (httpx.DecodingError, lambda exc, base, method, path: MalformedResponseError(
        f"{method} {path}: PIK's answer could not be decoded (a corrupt compressed body)",
        method=method, path=path)),
    (httpx.TransportError, lambda exc, base, method, path: TransportError(
        f"{method} {path}: connection failed ({type(exc).__name__})", method=method,
        path=path)),
)


@dataclass(frozen=True)
class WebhookEndpoint:
    """An endpoint registered on PIK; `secret` only in the answer to its registration."""

    id: str
    url: str
    events: tuple[str, ...]
    status: str
    secret: Secret | None = None


def _endpoint(record: Any) -> WebhookEndpoint | None:
    if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not (
            isinstance(record.get("url"), str)):
        return None
    events = record.get("events")
    return WebhookEndpoint(record["id"], record["url"],
                           tuple(e for e in events if isinstance(e, str))
                           if isinstance(events, list) else (),
                           str(record.get("status", "")))


def _error_message(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        return f"{err.get('code', '?')}: {err.get('message', '')}"
    return None


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def duration_text(seconds: float) -> str:
    """A wait as a person reads it: "0.4 s", "30 s", "5 min", "1 h 30 min", "24 h", "3 days"."""
    if seconds < 10:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    whole = round(seconds)
    if whole >= 48 * 3600:
        days, hours = divmod(round(whole / 3600), 24)
        return f"{days} days" + (f" {hours} h" if hours else "")
    units = [(whole // 3600, "h"), (whole % 3600 // 60, "min"), (whole % 60, "s")]
    shown = [(n, unit) for n, unit in units if n][:2]
    return " ".join(f"{n} {unit}" for n, unit in shown)

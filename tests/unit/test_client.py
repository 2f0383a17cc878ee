"""The API client against httpx.MockTransport: retries, Retry-After, typed errors, HTTPS."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from pik_recon import client as client_module
from pik_recon.client import (
    LINKS_PATH,
    PikClient,
    RateLimiter,
    check_base_url,
    duration_text,
    environment_proxy,
)
from pik_recon.config import PikSettings, Secret
from pik_recon.errors import (
    AuthError,
    ConfigError,
    InvalidRequestError,
    MalformedResponseError,
    RetryAfterTooLongError,
    ServerError,
    TransportError,
)

SETTINGS = PikSettings(base_url="https://api.pik.global/v1", backoff_base_seconds=0.001,
                       backoff_cap_seconds=0.01, max_retries=3, rate_limit_enabled=False)
PAGE = {"data": [], "total": 0, "limit": 100, "offset": 0}


def run(handler, call, settings: PikSettings = SETTINGS):
    async def go():
        async with PikClient(settings, Secret("k"), transport=httpx.MockTransport(handler)) as c:
            return await call(c), c.stats
    return asyncio.run(go())


def sequence(*responses):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        item = responses[min(len(calls) - 1, len(responses) - 1)]
        if isinstance(item, Exception):
            raise item
        return item
    return handler, calls


def test_retries_429_and_5xx_then_succeeds() -> None:
    handler, calls = sequence(httpx.Response(429, json={"error": {"code": "rate_limited"}}),
                              httpx.Response(502, text="<html>bad gateway</html>"),
                              httpx.Response(200, json=PAGE))
    page, stats = run(handler, lambda c: c.list_page("paid", 0))
    assert page.total == 0
    assert len(calls) == 3
    assert stats.retries == 2
    assert calls[0].headers["Authorization"] == "Bearer k"
    assert calls[0].url.params["status"] == "paid"


def test_retry_after_is_honoured() -> None:
    handler, calls = sequence(httpx.Response(429, headers={"Retry-After": "0.3"}),
                              httpx.Response(200, json=PAGE))
    started = time.monotonic()
    run(handler, lambda c: c.list_page(None, 0))
    assert time.monotonic() - started >= 0.3
    assert len(calls) == 2


@pytest.mark.parametrize("call", [lambda c: c.list_page(None, 0),
                                  lambda c: c.create_link("1.00", "USDT", None)])
def test_a_retry_after_beyond_the_cap_ends_at_once(call) -> None:
    handler, calls = sequence(httpx.Response(429, headers={"Retry-After": "86400"}),
                              httpx.Response(200, json=PAGE))
    started = time.monotonic()
    with pytest.raises(RetryAfterTooLongError) as caught:
        run(handler, call)
    assert time.monotonic() - started < 1
    assert len(calls) == 1
    assert str(caught.value).startswith("PIK asks to wait 24 h; try later (")
    assert "more than [pik] max_retry_after_seconds = 300)" in str(caught.value)
    assert caught.value.exit_code == 4


def test_a_retry_after_within_the_cap_is_waited_beyond_the_backoff_cap() -> None:
    settings = PikSettings(base_url="https://api.pik.global/v1", backoff_cap_seconds=0.01,
                           max_retry_after_seconds=0.5, rate_limit_enabled=False)
    handler, calls = sequence(httpx.Response(429, headers={"Retry-After": "0.4"}),
                              httpx.Response(200, json=PAGE))
    started = time.monotonic()
    run(handler, lambda c: c.list_page(None, 0), settings)
    assert time.monotonic() - started >= 0.4
    assert len(calls) == 2


def test_retries_are_logged_at_info_and_long_waits_shown(monkeypatch, caplog) -> None:
    monkeypatch.setattr(client_module, "LONG_WAIT_SECONDS", 0.1)
    handler, _ = sequence(httpx.Response(502, text="<html>bad gateway</html>"),
                          httpx.Response(429, headers={"Retry-After": "0.3"}),
                          httpx.Response(200, json=PAGE))
    shown: list[str | None] = []

    async def go() -> None:
        async with PikClient(SETTINGS, Secret("k"), transport=httpx.MockTransport(handler),
                             on_wait=shown.append) as c:
            await c.list_page(None, 0)

    with caplog.at_level("INFO", logger="pik_recon"):
        asyncio.run(go())
    infos = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert len(infos) == 3
    assert infos[0].startswith("retry 1 of 3 in ")
    assert infos[0].endswith(": GET /payment-links: PIK server error 502 (an HTML page)")
    assert infos[1] == ("retry 2 of 3 once the 0.3 s PIK asked for have passed: GET "
                        "/payment-links: rate limited by PIK")
    assert infos[2] == "waiting 0.3 s: PIK asked"
    assert shown == ["waiting 0.3 s: PIK asked", None]


@pytest.mark.parametrize(("seconds", "text"), [
    (0.4, "0.4 s"), (6, "6 s"), (30, "30 s"), (300, "5 min"), (301, "5 min 1 s"),
    (5400, "1 h 30 min"), (86_400, "24 h"), (259_200, "3 days"),
])
def test_durations_read_as_a_person_says_them(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_gives_up_after_the_budget_with_a_typed_error() -> None:
    handler, calls = sequence(httpx.Response(500, text="<html>oops</html>"))
    with pytest.raises(ServerError) as caught:
        run(handler, lambda c: c.list_page("paid", 0))
    assert len(calls) == SETTINGS.max_retries + 1
    assert "an HTML page" in str(caught.value)
    assert caught.value.exit_code == 4


@pytest.mark.parametrize(("response", "error"), [
    (httpx.Response(401, json={"error": {"code": "unauthorized", "message": "x"}}), AuthError),
    (httpx.Response(403, json={"error": {"code": "forbidden", "message": "x"}}), AuthError),
    (httpx.Response(422, json={"error": {"code": "unprocessable_entity"}}), InvalidRequestError),
    (httpx.Response(200, text="not json"), MalformedResponseError),
])
def test_refusals_are_final_and_a_malformed_body_is_retried(response: httpx.Response,
                                                             error: type) -> None:
    handler, calls = sequence(response)
    with pytest.raises(error):
        run(handler, lambda c: c.get_one(LINKS_PATH, "pl_1"))
    expected = SETTINGS.max_retries + 1 if error is MalformedResponseError else 1
    assert len(calls) == expected


def test_a_corrupt_compressed_body_is_a_malformed_answer_retried_not_a_crash() -> None:
    calls: list[httpx.Request] = []

    def corrupt_then(good: bool) -> object:
        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(request)
            if good and len(calls) > 1:
                return httpx.Response(200, json={"id": "pl_1"})
            return httpx.Response(200, headers={"Content-Encoding": "gzip"},
                                  stream=httpx.ByteStream(b"\x1f\x8b this is not gzip"))
        return handler

    body, _ = run(corrupt_then(good=True), lambda c: c.get_one(LINKS_PATH, "pl_1"))
    assert body == {"id": "pl_1"} and len(calls) == 2
    calls.clear()
    with pytest.raises(MalformedResponseError, match="could not be decoded"):
        run(corrupt_then(good=False), lambda c: c.get_one(LINKS_PATH, "pl_1"))
    assert len(calls) == SETTINGS.max_retries + 1


def test_a_list_page_counts_its_records_and_keeps_the_body_as_sent() -> None:
    body = (b'{"data": [{"id": "pl_1", "amount": "0.000000000000000001"}, {"id": "pl_2"}, '
            b'{"id": "pl_3", "description": "caf\\u00e9 \xe2\x82\xac"}], "total": 250, '
            b'"limit": 100, "offset": 0}')
    handler, calls = sequence(httpx.Response(200, content=body))
    page, _ = run(handler, lambda c: c.list_page("active", 0))
    assert (page.total, page.count, page.raw) == (250, 3, body)
    assert page.data == [{"id": "pl_1", "amount": "0.000000000000000001"}, {"id": "pl_2"},
                         {"id": "pl_3", "description": "caf\u00e9 \u20ac"}]
    assert calls[0].url.params == httpx.QueryParams({"limit": "100", "offset": "0",
                                                     "status": "active"})
    assert calls[0].headers["User-Agent"].startswith("pik-recon/")


@pytest.mark.parametrize("body", [
    b'{"data": [{"id": "pl_1", "n": 123456789012345678901234567890}], "total": 1}',
    b'{"data": [{"id": "pl_1", "n": NaN}], "total": 1}',
])
def test_a_list_page_simdjson_refuses_is_read_by_the_ordinary_decoder(body: bytes) -> None:
    handler, _ = sequence(httpx.Response(200, content=body))
    page, _ = run(handler, lambda c: c.list_page("paid", 0))
    assert (page.total, page.count, page.data[0]["id"]) == (1, 1, "pl_1")


@pytest.mark.parametrize("body", [b'{"data": {}, "total": 1}', b'{"data": [], "total": "1"}',
                                  b'{"items": []}', b'[1, 2]', b"<html>ok</html>",
                                  b'{"data": [], "total": 1.5}'])
def test_a_list_response_that_is_not_a_page_is_malformed(body: bytes) -> None:
    handler, calls = sequence(httpx.Response(200, content=body))
    with pytest.raises(MalformedResponseError) as caught:
        run(handler, lambda c: c.list_page("paid", 0))
    assert "not a list of links" in str(caught.value)
    assert len(calls) == SETTINGS.max_retries + 1


def test_https_goes_through_the_environments_proxy_unless_no_proxy_exempts_the_host(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert environment_proxy("https://api.pik.global/v1") is None
    monkeypatch.setenv("ALL_PROXY", "http://all.shop.internal:3128")
    assert environment_proxy("https://api.pik.global/v1") == "http://all.shop.internal:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.shop.internal:3128")
    assert environment_proxy("https://api.pik.global/v1") == "http://proxy.shop.internal:3128"
    monkeypatch.setenv("NO_PROXY", "api.pik.global")
    assert environment_proxy("https://api.pik.global/v1") is None


def test_plain_http_never_goes_through_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key would cross to the proxy in clear: whatever the environment says."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.shop.internal:3128")
    monkeypatch.setenv("ALL_PROXY", "http://all.shop.internal:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://secure.shop.internal:3128")
    assert environment_proxy("http://127.0.0.1:8765/v1") is None
    assert environment_proxy("http://localhost:8765/v1") is None


def test_dropped_connection_is_retried_for_reads() -> None:
    handler, calls = sequence(httpx.RemoteProtocolError("dropped"),
                              httpx.Response(200, json={"id": "pl_1"}))
    link, _ = run(handler, lambda c: c.get_one(LINKS_PATH, "pl_1"))
    assert link == {"id": "pl_1"}
    assert len(calls) == 2


def test_create_is_not_retried_when_it_may_have_happened() -> None:
    handler, calls = sequence(httpx.ReadTimeout("slow"), httpx.Response(201, json={"id": "x"}))
    with pytest.raises(TransportError) as caught:
        run(handler, lambda c: c.create_link("1.00", "USDT", "Order #1"))
    assert caught.value.sent is True
    assert len(calls) == 1
    assert json.loads(calls[0].content) == {"amount": "1.00", "currency": "USDT",
                                            "description": "Order #1"}


def test_create_is_retried_when_refused_before_sending() -> None:
    handler, calls = sequence(httpx.ConnectError("refused"),
                              httpx.Response(429, json={"error": {"code": "rate_limited"}}),
                              httpx.Response(201, json={"id": "pl_9"}))
    link, _ = run(handler, lambda c: c.create_link("1.00", "USDT", None))
    assert link["id"] == "pl_9"
    assert len(calls) == 3


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765/v1", "http://localhost/v1",
                                 "http://[::1]:80/v1", "https://api.pik.global/v1"])
def test_https_or_loopback_accepted(url: str) -> None:
    assert check_base_url(url) == url


@pytest.mark.parametrize("url", ["http://api.pik.global/v1", "http://10.0.0.5/v1", "ftp://x",
                                 "api.pik.global"])
def test_other_urls_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        check_base_url(url)


class _Clock:
    """A clock only the limiter's own waits move: each wait is recorded, then passes."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[tuple[float, str]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float, reason: str) -> None:
        self.waits.append((seconds, reason))
        self.now += seconds


def test_rate_limiter_holds_to_its_window() -> None:
    clock = _Clock()
    limiter = RateLimiter(per_minute=5, sleep=clock.sleep, clock=clock)

    async def go() -> list[tuple[float, list[tuple[float, str]]]]:
        sent = []
        for second in (0, 1, 2, 3, 4, 30, 61):
            clock.now = max(clock.now, 1000.0 + second)
            await limiter.acquire()
            sent.append((clock.now, list(clock.waits)))
        return sent

    sent = asyncio.run(go())
    wait = "keeping to 5 requests a minute"
    # five in the first five seconds; the sixth waits until the first is a window (60 s and
    # the margin) old; the seventh, at 61 s, until the second is
    assert [at for at, _ in sent] == [1000, 1001, 1002, 1003, 1004, 1060.5, 1061.5]
    assert sent[4][1] == []
    assert clock.waits == [(pytest.approx(30.5), wait), (pytest.approx(0.5), wait)]


def test_a_pause_holds_every_caller_even_with_the_limit_off() -> None:
    clock = _Clock()
    limiter = RateLimiter(per_minute=5, enabled=False, sleep=clock.sleep, clock=clock)
    limiter.pause(7)

    asyncio.run(limiter.acquire())

    assert clock.waits == [(7, "PIK asked")]


def test_link_creations_keep_to_their_own_limit_and_everything_else_to_the_general_one(
        ) -> None:
    """The client's two limiters, as its settings give them: creating a link spends the
    creation budget and a list the general one, each paced apart."""
    settings = PikSettings(base_url=SETTINGS.base_url, backoff_base_seconds=0.001,
                           rate_limit_enabled=True, rate_limit_per_minute=3,
                           create_rate_limit_per_minute=2)
    clock = _Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"id": "plink_1", "status": "active"})
        return httpx.Response(200, json=PAGE)

    async def calls(c: PikClient) -> list[tuple[str, float]]:
        for limiter in (c.general, c.creation):
            limiter._clock, limiter._sleep = clock, clock.sleep
        sent = []
        for _ in range(3):
            await c.create_link("1.00", "USDT", None)
            sent.append(("POST", clock.now))
        for _ in range(4):
            await c.list_page("paid", 0)
            sent.append(("GET", clock.now))
        return sent

    sent, _ = run(handler, calls, settings)
    # the third creation waits out the window of the first; the lists, three a minute, start
    # afresh from it and their fourth waits out the first list's window
    assert sent == [("POST", 1000), ("POST", 1000), ("POST", 1060.5), ("GET", 1060.5),
                    ("GET", 1060.5), ("GET", 1060.5), ("GET", 1121.0)]
    assert clock.waits == [(pytest.approx(60.5), "keeping to 2 requests a minute"),
                           (pytest.approx(60.5), "keeping to 3 requests a minute")]

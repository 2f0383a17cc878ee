"""The client's webhook endpoints against httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from pik_recon.client import PikClient
from pik_recon.config import PikSettings, Secret
from pik_recon.errors import MalformedResponseError, ServerError

SETTINGS = PikSettings(base_url="https://api.pik.global/v1", backoff_base_seconds=0.001,
                       backoff_cap_seconds=0.01, max_retries=3, rate_limit_enabled=True,
                       create_rate_limit_per_minute=1)
ENDPOINT = {"id": "wh_1", "url": "https://shop.example/webhooks",
            "events": ["payment.confirmed"], "status": "active"}


def _run(responses: list[httpx.Response], call: Callable[[PikClient], Awaitable[Any]],
         sent: list[httpx.Request] | None = None) -> Any:
    """`call` on a client whose requests get `responses` in turn (the last one repeated);
    the requests go into `sent`."""
    sent = [] if sent is None else sent

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return responses[min(len(sent), len(responses)) - 1]

    async def go() -> Any:
        async with PikClient(SETTINGS, Secret("k"), transport=httpx.MockTransport(handler)) as c:
            return await call(c)
    return asyncio.run(go())


def test_registering_keeps_the_secret_a_secret_and_lists_without_one() -> None:
    created = httpx.Response(201, json={**ENDPOINT, "secret": "whsec_abc"})
    listed = httpx.Response(200, json={"data": [ENDPOINT], "total": 1})

    async def both(client: PikClient) -> tuple[Any, ...]:
        # two POSTs within a creation limit of one a minute: /webhooks is not a creation
        async with asyncio.timeout(10):
            return (await client.register_webhook(ENDPOINT["url"], ["payment.confirmed"]),
                    await client.register_webhook(ENDPOINT["url"], ["payment.confirmed"]),
                    await client.list_webhooks())

    sent: list[httpx.Request] = []
    endpoint, _, endpoints = _run([created, created, listed], both, sent)
    assert (endpoint.id, endpoint.url, endpoint.events) == ("wh_1", ENDPOINT["url"],
                                                            ("payment.confirmed",))
    assert endpoint.secret is not None and endpoint.secret.reveal() == "whsec_abc"
    assert "whsec_abc" not in repr(endpoint)
    assert json.loads(sent[0].content) == {"url": ENDPOINT["url"],
                                           "events": ["payment.confirmed"]}
    assert [e.secret for e in endpoints] == [None]


@pytest.mark.parametrize("body", [{**ENDPOINT}, {**ENDPOINT, "secret": "abc"}, [ENDPOINT]])
def test_an_answer_without_a_whsec_secret_is_malformed(body: object) -> None:
    with pytest.raises(MalformedResponseError, match="lacks the endpoint's id or its whsec_"):
        _run([httpx.Response(201, json=body)],
             lambda c: c.register_webhook(ENDPOINT["url"], ["payment.settled"]))


def test_a_5xx_after_sending_is_not_sent_again() -> None:
    sent: list[httpx.Request] = []
    with pytest.raises(ServerError):
        _run([httpx.Response(502, text="<html></html>")],
             lambda c: c.register_webhook(ENDPOINT["url"], ["payment.settled"]), sent)
    assert len(sent) == 1  # PIK may have registered it: never a second POST

"""The sandbox's webhook endpoints: POST /webhooks registers one, GET /webhooks lists them.

Registered endpoints live in `SandboxState.webhooks`, where a delivery of events can find
them (url, events, secret, id, status). As PIK, only public https:// URLs are accepted;
the switch `allow_loopback_webhooks` (tests) also accepts http(s) to a loopback address.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

EVENTS = ("payment.confirmed", "payment.settled", "payment.failed")


@dataclass
class Endpoint:
    """One registered endpoint, secret and all (PIK answers the secret once)."""

    id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: str
    status: str = "active"

    def listed(self) -> dict[str, Any]:
        """As GET /webhooks shows it: never the secret."""
        return {"id": self.id, "url": self.url, "events": list(self.events),
                "status": self.status, "created_at": self.created_at}


class WebhookEndpoints:
    """The endpoints registered so far, in the order of registration."""

    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}

    def register(self, rng: random.Random, url: str, events: tuple[str, ...], now: str
                 ) -> Endpoint:
        endpoint = Endpoint(id=f"wh_{rng.getrandbits(80):020x}", url=url, events=events,
                            secret=f"whsec_{rng.getrandbits(192):048x}", created_at=now)
        self.endpoints[endpoint.id] = endpoint
        return endpoint


def _public_https(url: str, loopback_allowed: bool) -> str | None:
    """What PIK would refuse about an endpoint URL, or None."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        address = ipaddress.ip_address(host)
        loopback, private = address.is_loopback, not address.is_global
    except ValueError:
        loopback = host == "localhost"
        private = loopback or host.endswith((".local", ".internal", ".localhost")) or (
            "." not in host)
    if loopback_allowed and loopback and parts.scheme in ("http", "https"):
        return None
    if parts.scheme != "https" or not host:
        return "'url' must be an https:// URL"
    if private:
        return "'url' must be a public address"
    return None


def endpoint_problem(payload: Any, loopback_allowed: bool) -> str | None:
    """What PIK would answer 422 for in a POST /webhooks body, or None."""
    if not isinstance(payload, dict) or not isinstance(payload.get("url"), str):
        return "'url' is required"
    events = payload.get("events")
    if not isinstance(events, list) or not events or not all(e in EVENTS for e in events):
        return f"'events' must be a non-empty list of {', '.join(EVENTS)}"
    return _public_https(payload["url"], loopback_allowed)

"""`pik-recon webhooks register URL`: an endpoint on PIK, its secret into an owner-only file.

PIK shows an endpoint's secret once, in the answer to its registration, so the file is made
(0600, empty) before the request goes out and the secret written into it the moment the
answer comes; the secret is never printed or logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pik_recon.client import PikClient, WebhookEndpoint
from pik_recon.config import Config, Secret
from pik_recon.errors import (
    InvalidRequestError,
    MalformedResponseError,
    ServerError,
    TransientApiError,
    TransportError,
    UsageError,
)

EVENTS = ("payment.confirmed", "payment.settled", "payment.failed")


@dataclass(frozen=True)
class Registered:
    """The endpoint PIK registered (its secret not in it) and where its secret went."""

    endpoint: WebhookEndpoint
    secret_file: Path
    variable: str


def default_secret_file(config: Config, account: str) -> Path:
    """Beside the config file, or beside the warehouse when there is none."""
    folder = Path(config.source).parent if config.source != "defaults" else (
        config.db_path.parent)
    return folder / f"pik-webhook-secret.{account}"


def check_request(url: str, events: Sequence[str]) -> list[str]:
    """The URL a plain http(s) address, the events PIK's; the events, deduplicated."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"URL {url!r}: expected the public https:// address PIK is to send "
                         "events to, e.g. https://shop.example/webhooks")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise UsageError(f"--events {unknown[0]}: not a PIK event; choose from "
                         f"{', '.join(EVENTS)}")
    return list(dict.fromkeys(events or EVENTS))


def register(config: Config, url: str, events: Sequence[str], secret_file: Path, *,
             force: bool = False, allow_duplicate: bool = False) -> Registered:
    """Register `url` for `events` on the account `config` is scoped to; its secret goes to
    `secret_file` as the line VARIABLE=whsec_... (an existing file only with `force`)."""
    chosen = check_request(url, events)
    api_key = config.require_api_key()
    variable = next(a.webhook_secret_env for a in config.accounts if a.name == config.account)
    temp = _reserve(secret_file, force)
    try:
        endpoint = asyncio.run(_register(config, api_key, url, chosen, allow_duplicate))
        assert endpoint.secret is not None
        _publish(temp, secret_file, f"{variable}={endpoint.secret.reveal()}\n", force)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return Registered(endpoint, secret_file, variable)


def _reserve(target: Path, force: bool) -> Path:
    """An empty owner-only file beside `target`, made before anything is sent."""
    if target.exists() and not force:
        raise UsageError(f"--secret-file {target} exists already; give --force to replace it "
                         "(the secret in it stays valid for its own endpoint on PIK), or "
                         "name another file")
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except OSError as exc:
        raise UsageError(f"--secret-file {target}: cannot write in {target.parent}: "
                         f"{exc.strerror}; name a file in a folder you may write") from None
    return temp


def _publish(temp: Path, target: Path, text: str, force: bool) -> None:
    handle = os.open(temp, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(handle, text.encode())
        os.fsync(handle)
    finally:
        os.close(handle)
    if force:
        os.replace(temp, target)
    else:
        os.link(temp, target)  # never over a file that appeared meanwhile


async def _register(config: Config, api_key: Secret, url: str, events: list[str],
                    allow_duplicate: bool) -> WebhookEndpoint:
    async with PikClient(config.pik, api_key) as client:
        before = [e for e in await client.list_webhooks() if e.url == url]
        if before and not allow_duplicate:
            raise UsageError(f"PIK has {before[0].id} for {url} already (status "
                             f"{before[0].status or 'unknown'}); its secret was shown when it "
                             "was registered. Remove it in PIK's dashboard first, or give "
                             "--allow-duplicate to register a second endpoint for the URL (each "
                             "event is then sent twice, signed with each secret)")
        try:
            return await client.register_webhook(url, events)
        except InvalidRequestError as exc:
            raise UsageError(f"PIK refused to register {url} ({exc.status}): PIK sends events "
                             "only to public https:// addresses. Register the address of your "
                             "HTTPS reverse proxy (e.g. https://shop.example/webhooks), which "
                             "passes them to `pik-recon webhooks serve`") from None
        except (TransportError, ServerError, MalformedResponseError) as exc:
            if isinstance(exc, TransportError) and not exc.sent:
                raise
            known = {e.id for e in before}
            after = [e for e in await client.list_webhooks() if e.url == url
                     and e.id not in known]
            if after:
                raise TransientApiError(
                    f"PIK registered {after[0].id} for {url}, but its answer, the only one "
                    f"that carries the secret, was lost ({exc}); remove {after[0].id} in "
                    "PIK's dashboard and register again") from None
            raise TransientApiError(f"the registration's answer was lost ({exc}) and PIK "
                                    f"lists no new endpoint for {url}: nothing was "
                                    "registered; run the command again") from None

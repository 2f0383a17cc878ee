"""`pik-recon webhooks serve`: PIK's signed events onto disk, answered 200 once fsynced.

POST /webhooks/ACCOUNT (and POST /webhooks for the account `default`). The signature is
checked in constant time over the raw body with the account's secret; a delivery with a bad
or missing one is answered 401 and only counted. The lines that arrive while one fsync runs
are written and fsynced together by the next (group commit), on a thread of their own, so
the event loop goes on answering meanwhile. The receiver never opens the warehouse.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import json
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiohttp import web

from pik_recon.config import DEFAULT_ACCOUNT, Config
from pik_recon.errors import ConfigError, UsageError
from pik_recon.logs import get_logger
from pik_recon.webhooks.spool import SegmentWriter, ensure_spool, event_line, rejections_line

log = get_logger("webhooks.receiver")
ANSWER_WITHIN_SECONDS = 8.0  # PIK waits 10 s; an fsync slower than this is answered 503
COUNTS_EVERY_SECONDS = 5.0  # how often refused deliveries' counts go to the spool
SHUTDOWN_SECONDS = 10.0


def _answer(status: int, text: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"message": text}),
                        content_type="application/json")


def signature_ok(key: bytes, body: bytes, header: str) -> bool:
    """PIK-Signature is the hex HMAC-SHA256 of the raw body; compared in constant time."""
    expected = hmac.digest(key, body, "sha256").hex().encode()
    return hmac.compare_digest(expected, header.strip().lower().encode("ascii", "replace"))


def is_event(body: bytes) -> bool:
    """A JSON object in UTF-8 with a string `id` and `event`, as PIK documents events."""
    try:
        text = body.decode("utf-8")
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:  # what orjson refuses (huge integers) json may read
            doc = json.loads(text)
    except ValueError:
        return False
    return isinstance(doc, dict) and all(isinstance(doc.get(k), str) and doc[k]
                                         for k in ("id", "event"))


class Rejections:
    """Refused deliveries per account, UTC day and reason, counted since the receiver
    started; the counts that changed go to the spool now and then."""

    def __init__(self, receiver: str) -> None:
        self.receiver = receiver
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._reported: Counter[tuple[str, str, str]] = Counter()
        self._last: dict[tuple[str, str, str], datetime] = {}
        self._changed: set[tuple[str, str, str]] = set()

    def count(self, account: str, reason: str) -> None:
        now = datetime.now(UTC)
        key = (account, now.strftime("%Y-%m-%d"), reason)
        self._counts[key] += 1
        self._last[key] = now
        self._changed.add(key)
        log.debug("a delivery to account %s refused: %s", account, reason)

    def lines(self) -> bytes:
        """Spool records of the counts that changed since the last call (and a warning in
        the log: a flood of bad signatures is most often a wrong secret)."""
        changed, self._changed = self._changed, set()
        fresh = Counter({key: self._counts[key] - self._reported[key] for key in changed})
        self._reported.update(fresh)
        for account in sorted({key[0] for key in fresh}):
            reasons = ", ".join(f"{key[2]} {n}" for key, n in sorted(fresh.items())
                                if key[0] == account)
            log.warning("deliveries to account %s refused since the last report: %s (a "
                        "wrong or old webhook secret, or someone else posting)", account,
                        reasons)
        return b"".join(rejections_line(self.receiver, *key, self._counts[key], self._last[key])
                        for key in sorted(changed))

    @property
    def changed(self) -> bool:
        return bool(self._changed)


class SpoolWriteError(Exception):
    """The spool could not take a batch (a full or failing disk): its deliveries get 503."""


class GroupCommit:
    """One writer of the spool: what arrives while an fsync runs goes to disk with the next."""

    def __init__(self, writer: SegmentWriter, rejections: Rejections) -> None:
        self._writer = writer
        self._rejections = rejections
        self._lines: list[bytes] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="pik-webhook-spool")
        self.stored = 0

    async def commit(self, line: bytes) -> None:
        """Return once `line` is fsynced; TimeoutError or SpoolWriteError when it is not."""
        future = asyncio.get_running_loop().create_future()
        self._lines.append(line)
        self._waiting.append(future)
        self._wake.set()
        async with asyncio.timeout(ANSWER_WITHIN_SECONDS):
            await future

    async def run(self) -> None:
        """Write batches until closed and nothing is left; then close the segment."""
        counted = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._wake.wait()
            self._wake.clear()
            counts = b""
            if self._rejections.changed and (
                    self._closing or time.monotonic() - counted >= COUNTS_EVERY_SECONDS):
                counts, counted = self._rejections.lines(), time.monotonic()
            await self._batch(counts)
            if self._closing and not self._lines and not self._rejections.changed:
                break
        await asyncio.get_running_loop().run_in_executor(self._thread, self._writer.close)
        self._thread.shutdown()

    async def _batch(self, counts: bytes) -> None:
        """The lines waiting (and `counts`) to disk in one write and fsync; then every
        waiter hears how it went."""
        lines, waiting = self._lines, self._waiting
        self._lines, self._waiting = [], []
        error: Exception | None = None
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._thread, self._write, b"".join(lines) + counts)
        except Exception as exc:  # every waiter hears of it; the receiver goes on
            error = exc
            log.error("the webhook spool could not be written (%s); %d deliveries answered "
                      "503, PIK sends them again", exc, len(waiting))
        else:
            self.stored += len(lines)
        for future in waiting:
            if future.done():  # its request gave up waiting (answered 503)
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(SpoolWriteError(str(error)))

    def close(self) -> None:
        self._closing = True
        self._wake.set()

    def _write(self, data: bytes) -> None:
        if data:
            self._writer.append(data)
        self._writer.rotate_if_due()


class Receiver:
    """The aiohttp application: one route per account whose capture is on."""

    def __init__(self, keys: dict[str, bytes], commit: GroupCommit, rejections: Rejections,
                 max_body_bytes: int) -> None:
        self._keys = keys
        self._commit = commit
        self._rejections = rejections
        self._max = max_body_bytes

    def __repr__(self) -> str:
        return f"Receiver(accounts={sorted(self._keys)})"  # never the keys

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self._max)
        app.router.add_post("/webhooks/{account}", self.receive)
        if DEFAULT_ACCOUNT in self._keys:
            app.router.add_post("/webhooks", self.receive)
        return app

    async def receive(self, request: web.Request) -> web.Response:
        account = request.match_info.get("account", DEFAULT_ACCOUNT)
        key = self._keys.get(account)
        if key is None:
            return _answer(404, f"no webhook capture for account {account!r} here")
        if request.content_length is not None and request.content_length > self._max:
            return _answer(413, f"the body is larger than {self._max} bytes")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _answer(413, f"the body is larger than {self._max} bytes")
        signature = request.headers.get("PIK-Signature", "")
        if not signature.strip():
            self._rejections.count(account, "missing_signature")
            return _answer(401, "PIK-Signature is missing")
        if not signature_ok(key, body, signature):
            self._rejections.count(account, "bad_signature")
            return _answer(401, "PIK-Signature does not match the body")
        if not is_event(body):
            self._rejections.count(account, "not_an_event")
            return _answer(400, "the body is not an event (a JSON object with id and event)")
        line = event_line(account, datetime.now(UTC), signature.strip().lower(), body)
        try:
            await self._commit.commit(line)
        except (TimeoutError, SpoolWriteError):
            return _answer(503, "the event could not be stored in time; send it again")
        return _answer(200, "stored")


def secret_keys(config: Config) -> dict[str, bytes]:
    """Each capturing account's secret as the HMAC key (the whole string, whsec_ included).
    No secret at all, or one that is not PIK's, is a config error naming the variable."""
    keys = {}
    for account in config.capturing:
        assert account.webhook_secret is not None
        value = account.webhook_secret.reveal()
        if not value.startswith("whsec_") or value != value.strip() or " " in value:
            raise ConfigError(f"{account.webhook_secret_env} (account {account.name}) does not "
                              "hold a PIK webhook secret: PIK's start with whsec_ and hold no "
                              "spaces or line breaks; set it to the secret exactly as PIK "
                              "gave it")
        keys[account.name] = value.encode()
    if not keys:
        names = ", ".join(f"{a.webhook_secret_env} (account {a.name})" for a in config.accounts)
        raise ConfigError(f"no webhook secret is set, so there is nothing to receive: set "
                          f"{names or 'PIK_WEBHOOK_SECRET'} in the environment (`pik-recon "
                          "webhooks register URL` writes PIK's secret to a file for you)")
    return keys


def urls(host: str, port: int, accounts: list[str]) -> list[tuple[str, str]]:
    """(account, the URL it receives at) on this host and port."""
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}/webhooks"
    return [(a, base if a == DEFAULT_ACCOUNT else f"{base}/{a}") for a in accounts]


def serve(config: Config, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Receive until SIGTERM or SIGINT: stop accepting, finish what is in flight, return."""
    keys = secret_keys(config)
    folder = ensure_spool(config.spool_dir)
    asyncio.run(_serve(config, keys, folder, host, port, announce))


async def _serve(config: Config, keys: dict[str, bytes], folder: Path, host: str, port: int,
                 announce: Callable[[str], None]) -> None:
    receiver_id = secrets.token_hex(4)
    rejections = Rejections(receiver_id)
    commit = GroupCommit(SegmentWriter(folder, receiver_id, config.webhooks.segment_seconds),
                         rejections)
    writing = asyncio.create_task(commit.run())
    runner = web.AppRunner(Receiver(keys, commit, rejections,
                                    config.webhooks.max_body_bytes).app(),
                           access_log=None, handle_signals=False,
                           shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, backlog=1024)
        try:
            await site.start()
        except OSError as exc:
            raise _listen_error(exc, host, port) from None
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        _announce(config, keys, folder, host, port, announce)
        await _until_signalled()
        log.info("stopping: no new deliveries; finishing those in flight")
    finally:
        await runner.cleanup()
        commit.close()
        await writing
    log.info("webhook receiver stopped; %d events stored since it started", commit.stored)


def _listen_error(exc: OSError, host: str, port: int) -> UsageError:
    if exc.errno == errno.EADDRINUSE:
        return UsageError(f"--port {port}: {host}:{port} is in use by another program; choose "
                          "another port ([webhooks] port or --port)")
    return UsageError(f"the webhook receiver cannot listen on {host}:{port}: {exc.strerror}")


def _announce(config: Config, keys: dict[str, bytes], folder: Path, host: str, port: int,
              announce: Callable[[str], None]) -> None:
    announce(f"PIK webhook receiver on http://{host}:{port}, spool {folder}; SIGTERM or "
             "Ctrl-C stops it.")
    for account, url in urls(host, port, [a for a in config.account_names if a in keys]):
        announce(f"account {account}: {url}")
    for account in config.accounts:
        if account.name not in keys:
            announce(f"account {account.name}: capture off ({account.webhook_secret_env} is "
                     "not set)")


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

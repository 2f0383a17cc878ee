"""SIGKILL of the receiver, or of the loader, at random moments under concurrent deliveries:
every event answered 200 ends up in webhook_events, exactly as it was sent, once."""

from __future__ import annotations

import random
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path

import httpx

from tests.conftest import FAST_RETRIES, cli_env, pik_recon_cmd, run_cli, warehouse_rows
from tests.webhook_support import SECRET, ReceiverProcess, event_body, sign


class Senders:
    """Threads delivering distinct events as PIK would: each event until it is answered 200
    (a refused connection or a dropped one is tried again), until told to stop."""

    def __init__(self, threads: int) -> None:
        self.url = ""
        self.answered: dict[str, bytes] = {}  # event id -> body, answered 200
        self.sent: dict[str, bytes] = {}
        self._numbers = count()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(threads)
        self._work = [self._pool.submit(self._send) for _ in range(threads)]

    def _send(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                number = next(self._numbers)
                body, event_id = event_body(number), f"evt_{number:06d}"
                with self._lock:
                    self.sent[event_id] = body
                while not self._stop.is_set():
                    try:
                        status = client.post(self.url, content=body,
                                             headers={"PIK-Signature": sign(body)}).status_code
                    except httpx.TransportError:
                        time.sleep(0.01)
                        continue
                    if status == 200:
                        with self._lock:
                            self.answered[event_id] = body
                        break
                    assert status == 503, status  # answered, not stored: PIK sends it again

    def stop(self) -> None:
        self._stop.set()
        for work in self._work:
            work.result(timeout=60)
        self._pool.shutdown()


def test_sigkill_of_the_receiver_at_random_moments_loses_no_event_answered_200(
        workdir: Path) -> None:
    env = {**cli_env(workdir, "http://127.0.0.1:9/v1", key=None), "PIK_WEBHOOK_SECRET": SECRET}
    rng = random.Random(41)
    senders = Senders(threads=12)
    answered_before_kill = []
    try:
        for round_number in range(6):
            receiver = ReceiverProcess(env, workdir, workdir)
            senders.url = receiver.url()
            time.sleep(rng.uniform(0.3, 1.5))
            if round_number % 2:  # a load while the receiver writes, killed or not after it
                assert run_cli(["webhooks", "load"], env, workdir).returncode == 0
                time.sleep(rng.uniform(0.0, 0.5))
            answered_before_kill.append(len(senders.answered))
            receiver.kill()
    finally:
        senders.stop()
    assert answered_before_kill == sorted(answered_before_kill)
    assert answered_before_kill[-1] >= 300  # deliveries were going on at every kill

    done = run_cli(["--log-format", "json", "webhooks", "load"], env, workdir)
    assert done.returncode == 0, done.stderr
    rows = dict(warehouse_rows(workdir / "wh.duckdb",
                               "SELECT event_id, body FROM webhook_events"))
    missing = [i for i in senders.answered if i not in rows]
    assert missing == []
    assert {i: rows[i].encode() for i in senders.answered} == senders.answered
    # nothing half-written was taken for an event: every row is a body that was sent
    assert [i for i, body in rows.items() if senders.sent.get(i) != body.encode()] == []
    assert list((workdir / "wh.webhooks").glob("*.open")) == []  # dead receivers' segments
    assert list((workdir / "wh.webhooks").glob("*.jsonl")) == []


def _jsonl(workdir: Path) -> int:
    return len(list((workdir / "wh.webhooks").glob("*.jsonl")))


def test_sigkill_of_the_loader_between_and_within_segments_loads_every_event_once(
        workdir: Path) -> None:
    (workdir / "pik-recon.toml").write_text(FAST_RETRIES + "\n[webhooks]\nsegment_seconds = 1\n",
                                            encoding="utf-8")
    env = {**cli_env(workdir, "http://127.0.0.1:9/v1", key=None), "PIK_WEBHOOK_SECRET": SECRET}
    bodies = [event_body(n) for n in range(1_000)]
    with ReceiverProcess(env, workdir, workdir) as receiver, httpx.Client() as client:
        for number, body in enumerate(bodies):
            assert client.post(receiver.url(), content=body,
                               headers={"PIK-Signature": sign(body)}).status_code == 200
            if number % 100 == 0:  # answered: its segment was open before now
                segment_started = time.monotonic()
            if number % 50 == 0:  # a refused delivery now and then, counted
                assert client.post(receiver.url(), content=body).status_code == 401
            if number % 100 == 99:  # the segment rotates once a second old: ten segments
                time.sleep(max(0.0, segment_started + 1.1 - time.monotonic()))
        assert receiver.stop() == 0
    assert _jsonl(workdir) >= 8

    # killed the moment a segment is gone: within the next one's transaction or removal
    killed_midway = 0
    while _jsonl(workdir) > 1:
        before = _jsonl(workdir)
        loader = subprocess.Popen([*pik_recon_cmd(), "webhooks", "load"], env=env, cwd=workdir,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while loader.poll() is None and _jsonl(workdir) == before:
            time.sleep(0.001)
        loader.kill()
        loader.wait(timeout=60)
        killed_midway += 0 < _jsonl(workdir) < before
    assert killed_midway >= 2
    done = run_cli(["webhooks", "load"], env, workdir)
    assert done.returncode == 0, done.stderr

    db = workdir / "wh.duckdb"
    assert warehouse_rows(db, "SELECT count(*), count(DISTINCT body) FROM webhook_events") == [
        (len(bodies), len(bodies))]
    assert warehouse_rows(db, "SELECT sum(deliveries)::INT FROM webhook_rejections") == [(20,)]
    assert _jsonl(workdir) == 0

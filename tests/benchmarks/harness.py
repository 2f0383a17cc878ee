"""Benchmark plumbing: a sandbox in its own process, a bare httpx loop, timed CLI runs."""

from __future__ import annotations

import asyncio
import math
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

KEY = "sk_bench_key"
STATUSES = ("active", "paid", "expired", "deactivated")
TX_STATUSES = ("pending", "confirmed", "settled", "failed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SandboxProcess:
    """`pik-recon sandbox serve` in a process of its own (its own core, its own GIL)."""

    def __init__(self, *args: str, key: str = KEY) -> None:
        self.port = free_port()
        env = {**os.environ, "PIK_API_KEY": key}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pik_recon", "sandbox", "serve", "--port", str(self.port),
             *args], env=env, stdout=subprocess.PIPE, text=True)
        assert "PIK sandbox on" in (self.proc.stdout.readline() if self.proc.stdout else "")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def admin(self, path: str, body: dict | None = None) -> dict:
        url = f"http://127.0.0.1:{self.port}/_admin/{path}"
        response = httpx.post(url, json=body, timeout=600) if body is not None else httpx.get(
            url, timeout=600)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def minimum_requests(counts: dict[str, int]) -> int:
    """The minimum for a sweep: a request per 100 links, and one per status."""
    return math.ceil(sum(counts.values()) / 100) + len(counts)


async def _bare_loop(base_url: str, concurrency: int) -> int:
    headers = {"Authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits,
                                 timeout=60) as client:
        firsts = await asyncio.gather(*(client.get("/payment-links", params={
            "status": s, "limit": 100, "offset": 0}) for s in STATUSES))
        queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        for status, first in zip(STATUSES, firsts, strict=True):
            for offset in range(100, first.json()["total"], 100):
                queue.put_nowait((status, offset))
        fetched = len(firsts)

        async def worker() -> None:
            nonlocal fetched
            while not queue.empty():
                status, offset = queue.get_nowait()
                response = await client.get("/payment-links", params={
                    "status": status, "limit": 100, "offset": offset})
                response.json()
                fetched += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return fetched


async def _bare_transactions(base_url: str, concurrency: int) -> int:
    """The first page of each status, then every page of the unfiltered list."""
    headers = {"Authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits,
                                 timeout=60) as client:
        firsts = await asyncio.gather(*(client.get("/transactions", params={
            "status": s, "limit": 100, "offset": 0}) for s in TX_STATUSES),
            client.get("/transactions", params={"limit": 100, "offset": 0}))
        offsets = list(range(100, firsts[-1].json()["total"], 100))[::-1]
        fetched = len(firsts)

        async def worker() -> None:
            nonlocal fetched
            while offsets:
                response = await client.get("/transactions", params={
                    "limit": 100, "offset": offsets.pop()})
                response.json()
                fetched += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return fetched


def bare_transactions_loop(base_url: str, concurrency: int) -> tuple[float, int]:
    """Fetch every page of the transactions at `concurrency` and throw it away: the floor
    for a transactions sync."""
    started = time.perf_counter()
    pages = asyncio.run(_bare_transactions(base_url, concurrency))
    return time.perf_counter() - started, pages


def bare_loop(base_url: str, concurrency: int) -> tuple[float, int]:
    """Fetch every page at `concurrency` and throw it away: the floor for a full sync."""
    started = time.perf_counter()
    pages = asyncio.run(_bare_loop(base_url, concurrency))
    return time.perf_counter() - started, pages


@dataclass(frozen=True)
class Timed:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str


def _peak_rss_mb(pid: int, done: threading.Event, peak: list[float]) -> None:
    """Poll the kernel's high-water mark (VmHWM, reset by exec) until the process ends."""
    path = Path(f"/proc/{pid}/status")
    while not done.is_set():
        try:
            for line in path.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]) / 1024)
        except (OSError, ValueError):
            return
        done.wait(0.02)


def timed_cli(args: list[str], env: dict[str, str], cwd: Path) -> Timed:
    """Run pik-recon; wall time and the process's own peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pik_recon", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done, peak = threading.Event(), [0.0]
    watcher = threading.Thread(target=_peak_rss_mb, args=(proc.pid, done, peak), daemon=True)
    watcher.start()
    out = proc.stdout.read() if proc.stdout else ""
    proc.wait()
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    return Timed(seconds, peak[0], proc.returncode, out)


def cli_env(sandbox: SandboxProcess, db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIK_")}
    env.update(PIK_API_KEY=KEY, PIK_BASE_URL=sandbox.base_url, PIK_RECON_DB=str(db), **extra)
    return env

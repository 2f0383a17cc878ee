"""Benchmark plumbing: a sandbox in its own process, bare and lean httpx loops, timed CLI
runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
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


async def _lean_loop(base_url: str, concurrency: int) -> int:
    """The pages a full sync needs at the least (the first page of each status, every page of
    the unfiltered list) on httpx's transport itself, with the client's headers, each body
    read and left undecoded (only the unfiltered list's first page is, for its total)."""
    headers = httpx.Headers({"User-Agent": "pik-recon", "Accept": "application/json",
                             "Accept-Encoding": "gzip, deflate",
                             "Authorization": f"Bearer {KEY}"})
    limits = httpx.Limits(max_connections=concurrency * 2)
    extensions = {"timeout": httpx.Timeout(60).as_dict()}
    async with httpx.AsyncHTTPTransport(limits=limits) as transport:

        async def get(query: str) -> bytes:
            request = httpx.Request("GET", f"{base_url}/payment-links?{query}",
                                    headers=headers, extensions=extensions)
            response = await transport.handle_async_request(request)
            try:
                return await response.aread()
            finally:
                await response.aclose()

        first = await get("limit=100&offset=0")
        queries = [f"limit=100&offset=0&status={s}" for s in STATUSES] + [
            f"limit=100&offset={offset}" for offset in range(100, json.loads(first)["total"],
                                                             100)]
        queries.reverse()
        fetched = 1

        async def worker() -> None:
            nonlocal fetched
            while queries:
                await get(queries.pop())
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


def lean_loop(base_url: str, concurrency: int) -> tuple[float, int]:
    """Fetch the pages a full sync needs at `concurrency` on httpx's transport and decode
    none of them: the floor for a full sync on the same transport."""
    started = time.perf_counter()
    pages = asyncio.run(_lean_loop(base_url, concurrency))
    return time.perf_counter() - started, pages


@dataclass(frozen=True)
class Timed:
    seconds: float
    peak_rss_mb: float  # the process's own high-water mark
    returncode: int
    stdout: str
    tree_peak_rss_mb: float = 0.0  # the most the process and its children held at once


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def _tree(pid: int) -> list[int]:
    """`pid` and every process under it, now."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in task.read_text().split()]
    return found


def _peak_rss_mb(pid: int, done: threading.Event, peak: list[float]) -> None:
    """Poll until the process ends: the kernel's high-water mark of the process (VmHWM,
    reset by exec) in peak[0], and in peak[1] the largest sum of the resident sets of the
    process and its descendants seen at one poll (every 20 ms). A child that lives less than
    a poll can be missed; RUSAGE_CHILDREN would not do better, it gives the largest single
    child's own peak, never what the tree held at once, and only once the child is waited
    for."""
    while not done.is_set():
        try:
            peak[0] = max(peak[0], _status_kb(pid, "VmHWM:") / 1024)
            total = 0
            for member in _tree(pid):
                with contextlib.suppress(OSError, ValueError):
                    total += _status_kb(member, "VmRSS:")
            peak[1] = max(peak[1], total / 1024, peak[0])  # the parent alone is a floor
        except (OSError, ValueError):
            return
        done.wait(0.02)


def timed_cli(args: list[str], env: dict[str, str], cwd: Path) -> Timed:
    """Run pik-recon; wall time, the process's own peak RSS and its process tree's."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pik_recon", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done, peak = threading.Event(), [0.0, 0.0]
    watcher = threading.Thread(target=_peak_rss_mb, args=(proc.pid, done, peak), daemon=True)
    watcher.start()
    out = proc.stdout.read() if proc.stdout else ""
    proc.wait()
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    return Timed(seconds, peak[0], proc.returncode, out, peak[1])


def cli_env(sandbox: SandboxProcess, db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIK_")}
    env.update(PIK_API_KEY=KEY, PIK_BASE_URL=sandbox.base_url, PIK_RECON_DB=str(db), **extra)
    return env

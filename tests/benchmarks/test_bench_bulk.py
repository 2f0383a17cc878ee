"""Issue: bulk creation at PIK's 60/minute, and throughput against a bare POST loop."""

from __future__ import annotations

import asyncio
import csv
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.benchmarks.harness import KEY, SandboxProcess, cli_env, timed_cli

CONCURRENCY = 4
ROUNDS = 3  # bare loop and pik-recon alternate; each side's median is compared


def _rows(path: Path, count: int, prefix: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["order_id", "amount", "currency"])
        writer.writerows([f"{prefix}-{i}", f"{10 + i % 90}.50", "USDT"] for i in range(count))


async def _bare_posts(base_url: str, count: int, prefix: str) -> float:
    headers = {"Authorization": f"Bearer {KEY}"}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                response = await client.post("/payment-links", json={
                    "amount": f"{10 + i % 90}.50", "currency": "USDT",
                    "description": f"Order #{prefix}-{i}"})
                response.json()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - started


def test_throughput_against_a_bare_post_loop(tmp_path: Path) -> None:
    """Bare loop and `links create` alternate ROUNDS times against one sandbox (new order ids,
    a fresh ledger each time): both sides see the same machine noise; medians compare."""
    count = 20_000
    config = tmp_path / "c.toml"
    config.write_text("[pik]\nrate_limit_enabled = false\n")
    bares, ours = [], []
    with SandboxProcess("--no-rate-limit", "--generate", "0") as box:
        for round_no in range(ROUNDS):
            bares.append(asyncio.run(_bare_posts(box.base_url, count, f"bare{round_no}")))
            rows = tmp_path / f"rows-{round_no}.csv"
            _rows(rows, count, f"bench{round_no}")
            run = timed_cli(["links", "create", str(rows), "--concurrency", str(CONCURRENCY)],
                            cli_env(box, tmp_path / f"wh-{round_no}.duckdb",
                                    PIK_RECON_CONFIG=str(config)), tmp_path)
            assert run.returncode == 0, run.stdout
            ours.append(run.seconds)
        created = box.admin("state")["requests"]["POST /payment-links"]
    assert created == 2 * ROUNDS * count  # every row once, no retries needed without faults
    bare_rate, our_rate = count / statistics.median(bares), count / statistics.median(ours)
    print(f"\n[bulk create {count} links, concurrency {CONCURRENCY}] bare POST loop "
          f"{bare_rate:6.0f}/s | pik-recon links create {our_rate:6.0f}/s (whole command) | "
          f"{our_rate / bare_rate:.0%} of the loop (target >= 80%) | medians of {ROUNDS}: "
          f"bare {' '.join(f'{count / b:.0f}' for b in bares)}/s, "
          f"pik-recon {' '.join(f'{count / o:.0f}' for o in ours)}/s")
    assert our_rate >= 0.8 * bare_rate


def test_creation_rate_at_the_limit(tmp_path: Path) -> None:
    minutes = 3
    rows = tmp_path / "rows.csv"
    _rows(rows, 400, "limited")
    with SandboxProcess("--generate", "0") as box:
        proc = subprocess.Popen([sys.executable, "-m", "pik_recon", "links", "create",
                                 str(rows)], env=cli_env(box, tmp_path / "wh.duckdb"),
                                cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        while box.admin("state")["requests"].get("POST /payment-links", 0) == 0:
            time.sleep(0.05)
        started = time.monotonic()
        time.sleep(minutes * 60)
        state = box.admin("state")
        window = time.monotonic() - started
        proc.terminate()
        proc.wait(timeout=60)
    posts = state["requests"]["POST /payment-links"]
    rate = posts / window * 60
    print(f"\n[bulk create at the limit] {posts} POSTs in {window:.0f} s = {rate:.1f}/min "
          f"against 60/min ({rate / 60:.0%}, target >= 95%); 429s provoked: "
          f"{state['limited_429']}")
    assert rate >= 0.95 * 60
    assert state["limited_429"] == 0

"""PIK's side of the webhook benchmark, in a process of its own: CONCURRENCY senders post
signed events (each a new id) to URL for SECONDS, and print one JSON object: how many were
answered with which status, and the answer times.

    python -m tests.benchmarks.webhook_sender URL SECONDS CONCURRENCY SECRET
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
from collections import Counter

import aiohttp

BODY = ('{"event":"payment.confirmed","id":"evt_%d_%d","created_at":"2026-12-01T10:00:00Z",'
        '"data":{"transaction_id":"txn_%d_%d","payment_link_id":"pl_%d","amount":"75.10",'
        '"currency":"USDT","status":"confirmed","confirmed_at":"2026-12-01T10:00:00Z"}}')


async def _send(url: str, seconds: float, concurrency: int, secret: bytes) -> dict:
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def sender(worker: int) -> None:
            number = 0
            while time.perf_counter() < deadline:
                body = (BODY % (worker, number, worker, number, worker)).encode()
                signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
                started = time.perf_counter()
                async with session.post(url, data=body, headers={
                        "PIK-Signature": signature,
                        "Content-Type": "application/json"}) as response:
                    await response.read()
                latencies.append(time.perf_counter() - started)
                statuses[response.status] += 1
                number += 1

        started = time.perf_counter()
        await asyncio.gather(*(sender(w) for w in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"answered": len(latencies), "statuses": dict(statuses), "seconds": elapsed,
            "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
            "max_ms": latencies[-1] * 1000}


if __name__ == "__main__":
    url, seconds, concurrency, secret = sys.argv[1:5]
    print(json.dumps(asyncio.run(_send(url, float(seconds), int(concurrency),
                                       secret.encode()))))

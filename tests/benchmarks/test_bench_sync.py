"""Issue: full sync of 1,000,000 links vs a bare httpx loop; memory flat; rate-limit use."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.benchmarks.harness import (
    SandboxProcess,
    bare_loop,
    cli_env,
    minimum_requests,
    timed_cli,
)

CONCURRENCY = 8
NO_LIMIT_CONFIG = f"""
[pik]
rate_limit_enabled = false
concurrency = {CONCURRENCY}
"""


# Bare loop and sync alternate; each side's median is compared. One pair's ratio varies by
# about 0.2 on this machine, so five pairs.
ROUNDS = 5


def _sync_vs_bare(links: int, tmp: Path) -> tuple[list[float], list[float], float, int, int]:
    """Alternate bare loop and full sync ROUNDS times against one sandbox, each sync into a
    fresh warehouse: both sides see the same machine noise, and the medians compare."""
    config = tmp / f"bench-{links}.toml"
    config.write_text(NO_LIMIT_CONFIG)
    bares, syncs, peak, requests = [], [], 0.0, 0
    with SandboxProcess("--generate", str(links), "--no-rate-limit", "--seed", "5") as box:
        bare_loop(box.base_url, CONCURRENCY)  # warm the sandbox's caches for both sides
        counts = box.admin("state")["counts"]
        for round_no in range(ROUNDS):
            bares.append(bare_loop(box.base_url, CONCURRENCY)[0])
            db = tmp / f"bench-{links}-{round_no}.duckdb"
            run = timed_cli(["sync", "--full"], cli_env(box, db, PIK_RECON_CONFIG=str(config)),
                            tmp)
            assert run.returncode == 0, run.stdout
            syncs.append(run.seconds)
            peak = max(peak, run.peak_rss_mb)
            con = duckdb.connect(str(db), read_only=True)
            requests, verified = con.execute("SELECT requests, verified FROM sync_runs"
                                             ).fetchone()
            stored = con.execute("SELECT count(*) FROM payment_links").fetchone()[0]
            con.close()
            assert verified and stored == links
    return bares, syncs, peak, requests, minimum_requests(counts)


def _seconds(samples: list[float]) -> str:
    return " ".join(f"{s:.1f}" for s in samples)


def test_full_sync_speed_and_memory(tmp_path: Path) -> None:
    small = _sync_vs_bare(100_000, tmp_path)
    large = _sync_vs_bare(1_000_000, tmp_path)
    for links, (bares, syncs, rss, requests, minimum) in ((100_000, small),
                                                           (1_000_000, large)):
        bare, sync = statistics.median(bares), statistics.median(syncs)
        print(f"\n[sync {links:>9,} links] bare loop {bare:6.1f} s | pik-recon sync {sync:6.1f} s"
              f" | ratio {sync / bare:4.2f} (target <= 1.30) | peak RSS {rss:5.0f} MB "
              f"(target <= 400) | requests {requests} vs minimum {minimum} | medians of "
              f"{ROUNDS}: bare {_seconds(bares)}, sync {_seconds(syncs)}")
    bare, sync = statistics.median(large[0]), statistics.median(large[1])
    assert sync <= 1.3 * bare
    assert large[2] <= 400
    assert large[2] <= small[2] * 1.5  # memory does not grow with the number of links


@pytest.mark.parametrize("minutes", [2])
def test_rate_limited_sync_uses_the_limit(tmp_path: Path, minutes: int) -> None:
    db = tmp_path / "limited.duckdb"
    with SandboxProcess("--generate", "150000", "--seed", "6") as box:
        proc = subprocess.Popen([sys.executable, "-m", "pik_recon", "sync", "--full"],
                                env=cli_env(box, db), cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while sum(box.admin("state")["requests"].values()) == 0:
            time.sleep(0.05)
        started = time.monotonic()
        time.sleep(minutes * 60)
        served = sum(box.admin("state")["requests"].values())
        window = time.monotonic() - started
        limited = box.admin("state")["limited_429"]
        proc.terminate()
        proc.wait(timeout=60)
    rate = served / window * 60
    print(f"\n[rate limit] {served} requests in {window:.0f} s = {rate:.1f}/min against a limit "
          f"of 300/min ({rate / 300:.1%}, target >= 95%); 429s provoked: {limited}")
    assert rate >= 0.95 * 300
    assert limited == 0

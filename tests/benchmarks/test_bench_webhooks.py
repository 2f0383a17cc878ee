"""Issue: the webhook receiver takes >= 2,000 signed events/s from 50 concurrent senders,
p99 answer <= 100 ms, every event on disk; beside a bare aiohttp handler that only answers."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

from tests.benchmarks.harness import timed_cli

SECRET = "whsec_bench_secret_0123456789"
SENDERS = 50
SECONDS = 20
ROUNDS = 3  # the bare handler and the receiver alternate; each side's median is compared


def _env(tmp_path: Path, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIK_")}
    env.update(PIK_RECON_DB=str(db), PIK_WEBHOOK_SECRET=SECRET,
               PIK_RECON_CONFIG=str(tmp_path / "pik-recon.toml"))
    return env


def _start(args: list[str], env: dict[str, str], pattern: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(pattern, line)
        if found:
            return proc, found.group(1)
    raise AssertionError(f"{args} did not start")


def _send(url: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "tests.benchmarks.webhook_sender", url,
                           str(SECONDS), str(SENDERS), SECRET], capture_output=True, text=True,
                          check=True, timeout=SECONDS * 10)
    return json.loads(done.stdout)


def _line(name: str, run: dict) -> str:
    return (f"{name} {run['answered'] / run['seconds']:6.0f}/s, p50 {run['p50_ms']:5.1f} ms, "
            f"p99 {run['p99_ms']:5.1f} ms, max {run['max_ms']:6.1f} ms")


def test_receiver_rate_and_answer_times_against_a_bare_handler(tmp_path: Path) -> None:
    (tmp_path / "pik-recon.toml").write_text("", encoding="utf-8")
    bares, ours = [], []
    for round_no in range(ROUNDS):
        bare, url = _start(["tests.benchmarks.bare_receiver"], dict(os.environ),
                           r"bare receiver on (\S+)")
        try:
            bares.append(_send(url))
        finally:
            bare.kill()
            bare.wait()
        db = tmp_path / f"wh-{round_no}.duckdb"
        env = _env(tmp_path, db)
        receiver, port = _start(["pik_recon", "webhooks", "serve", "--port", "0"], env,
                                r"receiver on http://127\.0\.0\.1:(\d+)")
        try:
            run = _send(f"http://127.0.0.1:{port}/webhooks")
        finally:
            receiver.terminate()
            assert receiver.wait(timeout=60) == 0
        loaded = timed_cli(["--log-format", "json", "webhooks", "load"], env, tmp_path)
        assert loaded.returncode == 0, loaded.stdout
        result = next(json.loads(line) for line in loaded.stdout.splitlines()
                      if '"webhooks_load"' in line)
        run["on_disk"] = result["stored"].get("default", 0)
        run["load_seconds"] = loaded.seconds
        ours.append(run)
        assert run["statuses"] == {"200": run["answered"]}, run["statuses"]
        assert run["on_disk"] == run["answered"]  # every event answered 200 is on disk

    rate = statistics.median(r["answered"] / r["seconds"] for r in ours)
    p99 = statistics.median(r["p99_ms"] for r in ours)
    bare_rate = statistics.median(b["answered"] / b["seconds"] for b in bares)
    print(f"\n[webhooks serve, {SENDERS} senders for {SECONDS} s, sender in its own process] "
          f"receiver {rate:.0f}/s (target >= 2000), p99 {p99:.1f} ms (target <= 100) | bare "
          f"aiohttp handler {bare_rate:.0f}/s | {rate / bare_rate:.0%} of the bare handler")
    for number, (bare, run) in enumerate(zip(bares, ours, strict=True), 1):
        print(f"  round {number}: {_line('bare', bare)} | {_line('receiver', run)}, "
              f"{run['on_disk']:,} of {run['answered']:,} events on disk after load "
              f"({run['load_seconds']:.1f} s)")
    assert rate >= 2000
    assert p99 <= 100

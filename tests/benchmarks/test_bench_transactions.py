"""A full sync of 1,000,000 transactions vs a bare httpx loop over the same /transactions
pages, limits off; memory flat; requests against the minimum."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import duckdb

from tests.benchmarks.harness import SandboxProcess, bare_transactions_loop, cli_env, timed_cli
from tests.benchmarks.test_bench_sync import CONCURRENCY, NO_LIMIT_CONFIG, ROUNDS, Rounds

TRANSACTIONS = 1_000_000
LINKS = 1_000  # the links the payments are on: their own sync is a dozen requests


def _served(box: SandboxProcess) -> int:
    served = box.admin("state")["served"]
    return served["transaction_list"] + served["transaction"]


def _run(db: Path) -> tuple[bool, int, float, int]:
    """The transactions' run: verified, PIK's total, its own seconds, transactions held."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        verified, total, seconds = con.execute(
            "SELECT verified, pik_total, epoch(finished_at) - epoch(started_at) FROM sync_runs "
            "WHERE resource = 'transactions'").fetchone()
        held = con.execute("SELECT count(*) FROM transactions").fetchone()[0]
    finally:
        con.close()
    return verified, total, seconds, held


def test_transactions_sync_speed_and_memory(tmp_path: Path) -> None:
    config = tmp_path / "bench.toml"
    config.write_text(NO_LIMIT_CONFIG)
    rounds, runs = Rounds(), []
    with SandboxProcess("--generate", str(LINKS), "--tx-mix", "none", "--transactions",
                        str(TRANSACTIONS), "--no-rate-limit", "--seed", "5") as box:
        bare_transactions_loop(box.base_url, CONCURRENCY)  # warm the sandbox for both sides
        for round_no in range(ROUNDS):
            rounds.bares.append(bare_transactions_loop(box.base_url, CONCURRENCY)[0])
            db = tmp_path / f"bench-transactions-{round_no}.duckdb"
            total = sum(box.admin("state")["transactions"].values())
            minimum, before = math.ceil(total / 100) + 4, _served(box)
            run = timed_cli(["sync", "--full"], cli_env(box, db, PIK_RECON_CONFIG=str(config)),
                            tmp_path)
            assert run.returncode == 0, run.stdout
            rounds.ratios.append((_served(box) - before) / minimum)
            rounds.syncs.append(run.seconds)
            rounds.peak_mb = max(rounds.peak_mb, run.peak_rss_mb)
            verified, counted, seconds, held = _run(db)
            assert verified and held == counted >= TRANSACTIONS
            runs.append(seconds)
    bare, sync = statistics.median(rounds.bares), statistics.median(rounds.syncs)
    print(f"\n[sync {TRANSACTIONS:,} transactions] bare loop {bare:5.1f} s | pik-recon sync "
          f"{sync:5.1f} s (its transactions' run {statistics.median(runs):5.1f} s) | ratio "
          f"{sync / bare:4.2f} (target <= 1.30) | peak RSS {rounds.peak_mb:5.0f} MB (target <= "
          f"400) | requests / minimum {max(rounds.ratios):.3f} at most | medians of {ROUNDS}: "
          f"bare {' '.join(f'{s:.1f}' for s in rounds.bares)}, sync "
          f"{' '.join(f'{s:.1f}' for s in rounds.syncs)}")
    assert sync <= 1.3 * bare
    assert rounds.peak_mb <= 400

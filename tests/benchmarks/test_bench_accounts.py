"""Several accounts side by side: four accounts of 250,000 links against one of 1,000,000,
limits off, in the same run; wall time and peak RSS of `pik-recon sync`.

The comparison that measures what running accounts side by side costs keeps the requests
in flight equal: one account with `concurrency = 8` against four with 2 each. Four accounts
with 8 each (32 requests in flight) are measured too and printed: with the five sandboxes on
the same two cores as the sync, that oversubscribes the CPU the sync needs, which a remote
PIK would not.
"""

from __future__ import annotations

import statistics
from contextlib import ExitStack
from pathlib import Path

import duckdb

from tests.benchmarks.harness import SandboxProcess, cli_env, timed_cli

TOTAL = 1_000_000
ACCOUNTS = 4
ROUNDS = 5
CONCURRENCY = 8
LIMITS_OFF = f"""
[pik]
rate_limit_enabled = false
concurrency = {CONCURRENCY}
"""


def _stored(db: Path) -> list[tuple[str, bool, int, int]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT r.account, r.verified, r.pik_total, (SELECT count(*) FROM payment_links "
            "AS p WHERE p.account = r.account) FROM sync_runs AS r WHERE r.resource = 'links' "
            "ORDER BY r.account"
        ).fetchall()
    finally:
        con.close()


def _accounts_config(path: Path, boxes: list[tuple[str, SandboxProcess]],
                     concurrency: int) -> Path:
    path.write_text(LIMITS_OFF + "".join(
        f'\n[accounts.{name}]\nkey_env = "KEY_{name.upper()}"\nbase_url = "{box.base_url}"\n'
        f"concurrency = {concurrency}\n" for name, box in boxes))
    return path


def test_four_accounts_side_by_side_cost_no_more_than_one(tmp_path: Path) -> None:
    names = [f"shop{i}" for i in range(1, ACCOUNTS + 1)]
    keys = {f"KEY_{name.upper()}": f"sk_bench_{name}" for name in names}
    with ExitStack() as stack:
        single = stack.enter_context(SandboxProcess(
            "--generate", str(TOTAL), "--tx-mix", "none", "--no-rate-limit", "--seed", "5"))
        boxes = [(name, stack.enter_context(SandboxProcess(
            "--generate", str(TOTAL // ACCOUNTS), "--tx-mix", "none", "--no-rate-limit",
            "--seed", str(10 + i),
            key=keys[f"KEY_{name.upper()}"]))) for i, name in enumerate(names)]
        setups = {
            "one": (tmp_path / "one.toml", 1),
            "four, same in flight": (_accounts_config(tmp_path / "four-2.toml", boxes,
                                                      CONCURRENCY // ACCOUNTS), ACCOUNTS),
            "four, 8 each": (_accounts_config(tmp_path / "four-8.toml", boxes, CONCURRENCY),
                             ACCOUNTS),
        }
        setups["one"][0].write_text(LIMITS_OFF)
        seconds: dict[str, list[float]] = {name: [] for name in setups}
        peaks = dict.fromkeys(setups, 0.0)
        for round_no in range(ROUNDS):  # alternating: all see the same machine noise
            for n, (setup, (config, accounts)) in enumerate(setups.items()):
                db = tmp_path / f"round{round_no}-setup{n}.duckdb"
                env = {**cli_env(single, db, PIK_RECON_CONFIG=str(config)), **keys}
                run = timed_cli(["sync", "--full"], env, tmp_path)
                assert run.returncode == 0, run.stdout[-2000:]
                stored = _stored(db)
                assert len(stored) == accounts
                assert all(verified and total == held >= TOTAL // accounts
                           for _, verified, total, held in stored), stored
                seconds[setup].append(run.seconds)
                peaks[setup] = max(peaks[setup], run.peak_rss_mb)
    median = {setup: statistics.median(values) for setup, values in seconds.items()}
    print(f"\n[accounts] {TOTAL:,} links, limits off, medians of {ROUNDS} rounds:")
    for setup in setups:
        print(f"[accounts]   {setup:22} sync {median[setup]:5.1f} s "
              f"(each: {' '.join(f'{s:.1f}' for s in seconds[setup])}), "
              f"peak RSS {peaks[setup]:.0f} MB, ratio to one account "
              f"{median[setup] / median['one']:.2f}")
    print("[accounts] target: four accounts with the same requests in flight <= 1.05x one "
          "account (within noise); peak RSS <= 400 MB")
    # The asserted case keeps 8 requests in flight on both sides: it measures what side by
    # side costs pik-recon (one writer, four clients), the claim the README makes. Until
    # fd831c1 the four accounts had 8 each, 32 in flight against 8: that measures four
    # loopback sandboxes answering 4x the concurrent pages on the two cores the sync runs
    # on, a cost a remote PIK carries on its own machines. It is printed, never asserted.
    assert median["four, same in flight"] <= median["one"] * 1.05
    assert max(peaks.values()) <= 400

"""Several accounts side by side: four accounts of 250,000 links against one of 1,000,000,
limits off, in the same run; wall time and peak RSS of `pik-recon sync`."""

from __future__ import annotations

import statistics
from contextlib import ExitStack
from pathlib import Path

import duckdb

from tests.benchmarks.harness import SandboxProcess, cli_env, timed_cli

TOTAL = 1_000_000
ACCOUNTS = 4
ROUNDS = 3
LIMITS_OFF = """
[pik]
rate_limit_enabled = false
concurrency = 8
"""


def _stored(db: Path) -> list[tuple[str, bool, int, int]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT r.account, r.verified, r.pik_total, (SELECT count(*) FROM payment_links "
            "AS p WHERE p.account = r.account) FROM sync_runs AS r ORDER BY r.account"
        ).fetchall()
    finally:
        con.close()


def test_four_accounts_side_by_side_cost_no_more_than_one(tmp_path: Path) -> None:
    one_config = tmp_path / "one.toml"
    one_config.write_text(LIMITS_OFF)
    names = [f"shop{i}" for i in range(1, ACCOUNTS + 1)]
    with ExitStack() as stack:
        single = stack.enter_context(SandboxProcess(
            "--generate", str(TOTAL), "--no-rate-limit", "--seed", "5"))
        boxes = [stack.enter_context(SandboxProcess(
            "--generate", str(TOTAL // ACCOUNTS), "--no-rate-limit", "--seed", str(10 + i),
            key=f"sk_bench_{name}")) for i, name in enumerate(names)]
        several_config = tmp_path / "several.toml"
        several_config.write_text(LIMITS_OFF + "".join(
            f'\n[accounts.{name}]\nkey_env = "KEY_{name.upper()}"\nbase_url = "{box.base_url}"\n'
            for name, box in zip(names, boxes, strict=True)))
        keys = {f"KEY_{name.upper()}": f"sk_bench_{name}" for name in names}
        ones, severals, peaks = [], [], {"one": 0.0, "several": 0.0}
        for round_no in range(ROUNDS):  # alternating: both see the same machine noise
            db = tmp_path / f"one-{round_no}.duckdb"
            run = timed_cli(["sync", "--full"], cli_env(single, db,
                                                        PIK_RECON_CONFIG=str(one_config)),
                            tmp_path)
            assert run.returncode == 0, run.stdout[-2000:]
            assert [(v, t == n) for _, v, t, n in _stored(db)] == [(True, True)]
            ones.append(run.seconds)
            peaks["one"] = max(peaks["one"], run.peak_rss_mb)

            db = tmp_path / f"several-{round_no}.duckdb"
            env = {**cli_env(single, db, PIK_RECON_CONFIG=str(several_config)), **keys}
            run = timed_cli(["sync", "--full"], env, tmp_path)
            assert run.returncode == 0, run.stdout[-2000:]
            stored = _stored(db)
            assert [a for a, _, _, _ in stored] == names
            assert all(v and t == n >= TOTAL // ACCOUNTS for _, v, t, n in stored)
            severals.append(run.seconds)
            peaks["several"] = max(peaks["several"], run.peak_rss_mb)
    one, several = statistics.median(ones), statistics.median(severals)
    print(f"\n[accounts] 1 account of {TOTAL:,} links: sync {one:5.1f} s (each: "
          f"{' '.join(f'{s:.1f}' for s in ones)}), peak RSS {peaks['one']:.0f} MB | "
          f"{ACCOUNTS} accounts of {TOTAL // ACCOUNTS:,} side by side: sync {several:5.1f} s "
          f"(each: {' '.join(f'{s:.1f}' for s in severals)}), peak RSS "
          f"{peaks['several']:.0f} MB (target <= 400) | ratio {several / one:.2f} "
          f"(target <= 1.00, medians of {ROUNDS})")
    assert several <= one * 1.05  # no more than one account of the same total, within noise
    assert peaks["several"] <= 400

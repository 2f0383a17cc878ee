"""Incremental sync after a day on 1,000,000 links vs a full sweep, in the same run: links
that expire within days, and links that stay active for months."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest

from tests.benchmarks.harness import SandboxProcess, cli_env, timed_cli

LINKS = 1_000_000
LIMIT_PER_MINUTE = 300
SHAPES = {
    # most links expire three days after creation; a day's changes are mostly young links
    "expiring": ([], {"new": 5_000, "changes": 5_000, "old_ratio": 0.02, "advance": False}),
    # a quarter of the links active and never expiring, the day's changes among all of them
    "quarter-active": (["--active-share", "0.25"],
                       {"new": 20_000, "changes": 20_000, "anywhere": True, "advance": False}),
}


def _minutes(n: int) -> str:
    return f"{math.ceil(n / LIMIT_PER_MINUTE)} min"


@pytest.mark.parametrize(("shape", "target"), [("expiring", 1 / 20), ("quarter-active", 1.0)])
def test_incremental_requests_against_a_full_sweep(tmp_path: Path, shape: str,
                                                   target: float) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[pik]\nrate_limit_enabled = false\n")
    db = tmp_path / "wh.duckdb"
    options, day_of = SHAPES[shape]
    with SandboxProcess("--generate", str(LINKS), "--tx-mix", "none", "--no-rate-limit",
                        "--seed", "8", *options) as box:
        env = cli_env(box, db, PIK_RECON_CONFIG=str(config))
        assert timed_cli(["sync", "--full"], env, tmp_path).returncode == 0
        day = box.admin("simulate-day", day_of)
        incremental = timed_cli(["sync"], env, tmp_path)
        assert incremental.returncode == 0, incremental.stdout
        full = timed_cli(["sync", "--full"], env, tmp_path)  # the same state, swept whole
        assert full.returncode == 0, full.stdout
    con = duckdb.connect(str(db), read_only=True)
    runs = con.execute("SELECT mode, budget_spent, verified, strategy FROM sync_runs "
                       "WHERE resource = 'links' ORDER BY id").fetchall()
    con.close()
    (_, _, _, _), (mode, requests, verified, strategy), (_, full_requests, _, _) = runs
    assert (mode, verified) == ("incremental", True)
    ratio = requests / full_requests
    print(f"\n[incremental, {LINKS:,} links, {shape}, a day of {day['new']} new and "
          f"{day['changed']} changed ({day['old']} created months ago)] full sweep "
          f"{full_requests} requests ({_minutes(full_requests)} at 300/min) | incremental "
          f"{requests} requests ({_minutes(requests)} at 300/min) | ratio {ratio:.3f} = "
          f"1/{1 / ratio:.1f} (target <= {target:.3g}) | {strategy.split(';')[0]}")
    assert ratio <= target

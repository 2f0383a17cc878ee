"""Issue: incremental sync after a day on 1,000,000 links vs a full sweep, same run."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb

from tests.benchmarks.harness import SandboxProcess, cli_env, timed_cli

LINKS = 1_000_000
LIMIT_PER_MINUTE = 300


def test_incremental_requests_against_a_full_sweep(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[pik]\nrate_limit_enabled = false\n")
    db = tmp_path / "wh.duckdb"
    with SandboxProcess("--generate", str(LINKS), "--no-rate-limit", "--seed", "8") as box:
        env = cli_env(box, db, PIK_RECON_CONFIG=str(config))
        full = timed_cli(["sync", "--full"], env, tmp_path)
        assert full.returncode == 0, full.stdout
        day = box.admin("simulate-day", {"new": 5_000, "changes": 5_000, "old_ratio": 0.02,
                                         "advance": False})
        incremental = timed_cli(["sync"], env, tmp_path)
        assert incremental.returncode == 0, incremental.stdout
    con = duckdb.connect(str(db), read_only=True)
    runs = con.execute("SELECT mode, requests, verified FROM sync_runs ORDER BY id").fetchall()
    con.close()
    (full_mode, full_requests, _), (mode, requests, verified) = runs
    assert (full_mode, mode, verified) == ("full", "incremental", True)

    def minutes(n: int) -> str:
        return f"{math.ceil(n / LIMIT_PER_MINUTE)} min"

    print(f"\n[incremental, {LINKS:,} links, a day of {day['new']} new and {day['changed']} "
          f"changed ({day['old']} created months ago)] full sweep {full_requests} requests "
          f"({minutes(full_requests)} at 300/min) | incremental {requests} requests "
          f"({minutes(requests)} at 300/min) | ratio 1/{full_requests / requests:.0f} "
          f"(target <= 1/20)")
    assert requests * 20 <= full_requests

"""A fresh clone: `make demo` sets everything up and leaves the reports, in under 2 minutes."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_make_demo_from_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIK_", "VIRTUAL_ENV"))}
    started = time.monotonic()
    done = subprocess.run(["make", "demo"], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=600)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    reports = clone / "reports" / "demo"
    assert {p.name for p in reports.iterdir()} >= {"summary.csv", "findings.csv",
                                                  "report.xlsx", "report.html", "report.json"}
    assert "pik-recon job demo (run 1): done, " in done.stdout
    assert "(exit 0 because the report step's fail_on is never)" in done.stdout
    assert "reports in reports/demo" in done.stdout
    assert elapsed < 120, f"make demo took {elapsed:.0f} s"

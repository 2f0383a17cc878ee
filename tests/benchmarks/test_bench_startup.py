"""Start-up of the console script: `pik-recon --help`, each command's own start (its --help,
and `status` of a missing warehouse), beside `python -c pass`, the floor, in the same run.

Bytecode is written and read as an installed pik-recon does (PYTHONDONTWRITEBYTECODE is
dropped for the runs): a start that compiles every module from source measures the
compiler, not pik-recon. The median of ROUNDS runs is asserted; CPU time is printed beside
it, the part that does not grow when other processes share the cores.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pik_recon.cli import COMMANDS

ROUNDS = 7
SCRIPT = Path(sys.executable).parent / "pik-recon"
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _start(args: list[str], expect: int = 0) -> tuple[float, float]:
    """Median wall and CPU seconds of ROUNDS runs of `args`."""
    subprocess.run(args, env=ENV, capture_output=True, timeout=60)  # bytecode written
    walls, cpus = [], []
    for _ in range(ROUNDS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(args, env=ENV, capture_output=True, timeout=60)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        assert done.returncode == expect, (args, done.stderr)
    return statistics.median(walls), statistics.median(cpus)


def test_help_and_every_commands_start(tmp_path: Path) -> None:
    floor_wall, floor_cpu = _start([sys.executable, "-c", "pass"])
    runs = {"--help": _start([str(SCRIPT), "--help"])}
    for name in COMMANDS:
        runs[f"{name} --help"] = _start([str(SCRIPT), name, "--help"])
    runs["status, missing warehouse"] = _start(
        [str(SCRIPT), "--db", str(tmp_path / "missing.duckdb"), "status"], expect=2)
    print(f"\n[start-up] floor `python -c pass`: {floor_wall:.3f} s wall, {floor_cpu:.3f} s "
          f"CPU (medians of {ROUNDS})")
    for what, (wall, cpu) in runs.items():
        target = 0.3 if what == "--help" else 0.25
        print(f"  pik-recon {what:<28} {wall:.3f} s wall (target <= {target}), {cpu:.3f} s "
              f"CPU | {wall / floor_wall:4.1f}x the floor")
    slow = {what: round(wall, 3) for what, (wall, _) in runs.items()
            if wall > (0.3 if what == "--help" else 0.25)}
    assert slow == {}

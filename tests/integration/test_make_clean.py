"""`make clean` removes what the build made and nothing the user keeps: the warehouse (with
the creation ledger and the acknowledgements), its WAL, reports and exports stay."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"
DATA = ("pik_recon.duckdb", "pik_recon.duckdb.wal", "reports/2026-11-30/report.xlsx",
        "reports/demo/warehouse.duckdb", "export/manifest.json", "try/wh.duckdb")
ARTEFACTS = (".venv/bin/python", "build/lib/x.py", "dist/pik_recon-0.1.0.whl",
             ".pytest_cache/v/x", ".ruff_cache/x", "pik_recon/__pycache__/cli.pyc",
             "tests/unit/__pycache__/t.pyc")


def test_make_clean_removes_build_artefacts_and_keeps_every_warehouse_and_report(
        tmp_path: Path) -> None:
    shutil.copy(MAKEFILE, tmp_path / "Makefile")
    for name in (*DATA, *ARTEFACTS):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    done = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert [name for name in DATA if not (tmp_path / name).is_file()] == []
    assert [name for name in ARTEFACTS if (tmp_path / name).exists()] == []

"""The built wheel carries sql/ and sample_data/ and works from a fresh virtual environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fresh_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                    str(out), str(REPO)], check=True, timeout=600)
    wheel = next(out.glob("pik_recon-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "pik_recon/sql/001_init.sql" in names
    assert "pik_recon/sample_data/links.jsonl" in names
    venv = out / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=300)
    # the installer the Makefile uses, into the fresh environment
    install = [str(Path(sys.executable).parent / "uv"), "pip", "install", "--quiet",
               "--python", str(venv / "bin" / "python")]
    subprocess.run([*install, str(wheel)], check=True, timeout=900)
    script = venv / "bin" / "pik-recon"
    # without the extra `sandbox`, its commands say what to install; then it is installed
    bare = subprocess.run([str(script), "sandbox", "serve", "--port", "0"], cwd=out,
                          capture_output=True, text=True, timeout=60)
    assert bare.returncode == 2, bare.stderr
    assert "pip install 'pik-recon[sandbox]'" in bare.stderr
    subprocess.run([*install, f"{wheel}[sandbox]"], check=True, timeout=900)
    return script


def test_help_from_the_wheel(fresh_install: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(fresh_install), "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    for command in ("sync", "status", "sandbox", "demo"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.MULTILINE), command


def test_sandbox_smoke_from_the_wheel(fresh_install: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIK_")}
    env.update(PIK_API_KEY="sk_wheel_smoke", PIK_RECON_DB=str(tmp_path / "wh.duckdb"))
    server = subprocess.Popen([str(fresh_install), "sandbox", "serve", "--port", "0"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    try:
        banner = re.match(r"PIK sandbox on (http://127\.0\.0\.1:\d+/v1) ",
                          server.stdout.readline())
        assert banner, "no banner naming the port the sandbox took"
        env["PIK_BASE_URL"] = banner.group(1)
        deadline = time.monotonic() + 30
        while True:
            done = subprocess.run([str(fresh_install), "sync"], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=120)
            if done.returncode != 4 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert done.returncode == 0, done.stderr
        assert "verdict: verified" in done.stdout
        status = subprocess.run([str(fresh_install), "status"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0
        assert "verified" in status.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)

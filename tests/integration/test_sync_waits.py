"""PIK's Retry-After: too long ends the command at once (exit 4); a long one is logged at
INFO and shown on the progress bar while it lasts."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
import threading
import time
import urllib.request
from pathlib import Path

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from tests.conftest import cli_env, pik_recon_cmd, run_cli, warehouse_rows

TOO_LONG = "PIK asks to wait 24 h; try later"


def _faults(server: SandboxServer, **settings: object) -> None:
    """Switch the sandbox's faults through its admin endpoint, over HTTP."""
    request = urllib.request.Request(f"{server.admin_url}/config",
                                     data=json.dumps(settings).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def test_a_retry_after_of_a_day_ends_the_sync_at_once_with_exit_4(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, 3_000)
    _faults(sandbox, rate=0.1, kinds=["429"], retry_after_seconds=86_400)
    started = time.monotonic()

    done = run_cli(["sync"], cli_env(workdir, sandbox.base_url), workdir, timeout=60)

    assert time.monotonic() - started < 30
    assert done.returncode == 4, done.stderr
    assert f"Error: {TOO_LONG} (GET /payment-links answered 429 with Retry-After: 86400, " \
           "more than [pik] max_retry_after_seconds = 300)" in done.stderr
    assert sandbox_state.log.fault_counts["429"] >= 1
    state, verified, verdict = warehouse_rows(
        workdir / "wh.duckdb", "SELECT state, verified, verdict FROM sync_runs "
                               "WHERE resource = 'links'")[-1]
    assert (state, verified) == ("failed", False)
    assert verdict.startswith(f"failed: {TOO_LONG}")


def test_a_retry_after_of_a_day_ends_links_create_at_once_with_exit_4(
        sandbox: SandboxServer, workdir: Path) -> None:
    rows = workdir / "invoices.csv"
    rows.write_text("order_id,amount,currency\nA-1,10.00,USDT\nA-2,20.00,USDT\n")
    _faults(sandbox, rate=1.0, kinds=["429"], retry_after_seconds=86_400)
    started = time.monotonic()

    done = run_cli(["links", "create", str(rows)], cli_env(workdir, sandbox.base_url),
                   workdir, timeout=60)

    assert time.monotonic() - started < 30
    assert done.returncode == 4, done.stderr
    assert f"Error: {TOO_LONG} (" in done.stderr


def _once(state: SandboxState, kind: str) -> threading.Thread:
    """Stop serving faults once one of `kind` has been served: PIK asked once."""
    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with state.lock:
                if state.log.fault_counts[kind]:
                    state.faults.rate = 0.0
                    return
            time.sleep(0.001)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def _on_a_terminal(args: list[str], env: dict[str, str], cwd: Path
                   ) -> tuple[int, list[str]]:
    """Run the console script with its stderr on a pseudo-terminal (where the progress bar
    shows); its exit code and the lines the terminal showed (colours left out, and a
    cursor movement ends a line)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    proc = subprocess.Popen([*pik_recon_cmd(), *args], env={**env, "TERM": "xterm-256color",
                                                             "COLUMNS": "200"},
                            cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=follower)
    os.close(follower)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    proc.communicate(timeout=60)
    text = re.sub(r"\x1b\[[0-9;]*m", "", shown.decode("utf-8", "replace"))
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", text)
    return proc.returncode, [line.strip() for line in re.split(r"[\r\n]+", text)]


def test_a_retry_after_of_6_s_is_logged_and_shown_while_it_lasts(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, 500)
    _faults(sandbox, rate=1.0, kinds=["429"], retry_after_seconds=6)
    watcher = _once(sandbox_state, "429")
    started = time.monotonic()

    code, lines = _on_a_terminal(["sync"], cli_env(workdir, sandbox.base_url), workdir)

    watcher.join(timeout=5)
    assert code == 0, lines
    assert time.monotonic() - started >= 6  # PIK's wait was kept
    assert sandbox_state.log.fault_counts["429"] == 1
    logged = [line.split(" INFO ", 1)[1] for line in lines if " INFO " in line]
    assert "retry 1 of 8 once the 6 s PIK asked for have passed: GET /payment-links: rate " \
           "limited by PIK" in logged
    assert "waiting 6 s: PIK asked" in logged
    bar = [line for line in lines if re.fullmatch(r"requests \S+ \d+/\d+ .* waiting 6 s: PIK "
                                                   r"asked", line)]
    assert bar, lines

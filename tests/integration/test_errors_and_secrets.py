"""Exit codes for a missing key, a refused key, an unreachable host, plain http; no key leaks."""

from __future__ import annotations

import socket
from pathlib import Path

import duckdb

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from tests.conftest import API_KEY, cli_env, run_cli


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_missing_key_is_exit_2_and_says_how_to_set_it(workdir: Path) -> None:
    done = run_cli(["sync"], cli_env(workdir, "http://127.0.0.1:9/v1", key=None), workdir)
    assert done.returncode == 2
    assert "export PIK_API_KEY=" in done.stderr


def test_wrong_key_is_exit_3(sandbox: SandboxServer, workdir: Path) -> None:
    done = run_cli(["sync"], cli_env(workdir, sandbox.base_url, key="sk_wrong"), workdir)
    assert done.returncode == 3
    assert "PIK refused the API key (401" in done.stderr


def test_unreachable_host_is_exit_4(workdir: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    done = run_cli(["sync"], cli_env(workdir, url), workdir)
    assert done.returncode == 4
    assert f"cannot connect to {url}" in done.stderr


def test_plain_http_to_a_remote_host_is_refused(workdir: Path) -> None:
    done = run_cli(["sync"], cli_env(workdir, "http://api.pik.global/v1"), workdir)
    assert done.returncode == 2
    assert "plain http:// is refused for api.pik.global" in done.stderr


def test_key_appears_nowhere(sandbox: SandboxServer, sandbox_state: SandboxState,
                             workdir: Path) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, 700)
        sandbox_state.faults.rate = 0.3
    env = cli_env(workdir, sandbox.base_url)
    outputs = []
    for args in (["-v", "sync"], ["-v", "--log-format", "json", "sync", "--full"], ["status"]):
        done = run_cli(args, env, workdir)
        assert done.returncode == 0, done.stderr
        outputs += [done.stdout, done.stderr]
    refused = run_cli(["-v", "sync"], {**env, "PIK_API_KEY": API_KEY + "x"}, workdir)
    assert refused.returncode == 3
    outputs += [refused.stdout, refused.stderr]
    assert any('"level": "debug"' in text for text in outputs)  # the verbose logs were there

    assert not [text for text in outputs if API_KEY in text]
    db = workdir / "wh.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    tables = [row[0] for row in con.execute("SHOW TABLES").fetchall()]
    assert "payment_links" in tables
    for table in tables:
        for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
            assert API_KEY not in repr(row)
    con.close()
    assert API_KEY.encode() not in db.read_bytes()

"""Exit codes for a missing key, a refused key, an unreachable host, plain http; no key leaks."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import duckdb
import pytest

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from tests.conftest import API_KEY, cli_env, invoke_cli, served


def test_missing_key_is_exit_2_and_says_how_to_set_it(workdir: Path) -> None:
    done = invoke_cli(["sync"], cli_env(workdir, "http://127.0.0.1:9/v1", key=None), workdir)
    assert done.returncode == 2
    assert "export PIK_API_KEY=" in done.stderr
    assert not (workdir / "wh.duckdb").exists()  # nothing made that status would read as fine


def test_a_synced_warehouse_never_reconciled_needs_attention_not_known(
        sandbox: SandboxServer, workdir: Path) -> None:
    env = cli_env(workdir, sandbox.base_url)
    assert invoke_cli(["sync"], env, workdir).returncode == 0
    shown = invoke_cli(["status"], env, workdir)
    assert shown.returncode == 0, shown.stderr
    assert ("needs attention: not known, no reconciliation has run yet (run pik-recon "
            "reconcile)") in shown.stdout
    assert "needs attention: nothing" not in shown.stdout


def test_a_warehouse_with_orders_and_no_sync_says_to_sync_before_reconciling(
        workdir: Path) -> None:
    env = cli_env(workdir, "http://127.0.0.1:9/v1")
    orders = workdir / "orders.csv"
    orders.write_text("order_id,amount,currency,status,created_at\n"
                      "A,10.00,USDT,awaiting_payment,2026-11-01T10:00:00Z\n")
    assert invoke_cli(["orders", "load", str(orders)], env, workdir).returncode == 0
    shown = invoke_cli(["status"], env, workdir)
    assert shown.returncode == 0, shown.stderr
    assert ("needs attention: not known, no reconciliation has run yet (run pik-recon sync, "
            "then pik-recon reconcile)") in shown.stdout
    refused = invoke_cli(["reconcile"], env, workdir)
    assert refused.returncode == 2
    assert "sync" in refused.stderr


def test_wrong_key_is_exit_3(sandbox: SandboxServer, workdir: Path) -> None:
    done = invoke_cli(["sync"], cli_env(workdir, sandbox.base_url, key="sk_wrong"), workdir)
    assert done.returncode == 3
    assert "PIK refused the API key (401" in done.stderr


def test_unreachable_host_is_exit_4(workdir: Path, refused_url: str) -> None:
    done = invoke_cli(["sync"], cli_env(workdir, refused_url), workdir)
    assert done.returncode == 4
    assert f"cannot connect to {refused_url}" in done.stderr


def test_plain_http_to_a_remote_host_is_refused(workdir: Path) -> None:
    done = invoke_cli(["sync"], cli_env(workdir, "http://api.pik.global/v1"), workdir)
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
        done = invoke_cli(args, env, workdir)
        assert done.returncode == 0, done.stderr
        outputs += [done.stdout, done.stderr]
    refused = invoke_cli(["-v", "sync"], {**env, "PIK_API_KEY": API_KEY + "x"}, workdir)
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


LEAKED = "sk_live_9fQ2ZxTq7LmWv3Rb"


def test_a_key_written_where_its_variables_name_goes_is_refused_and_never_shown(
        sandbox: SandboxServer, workdir: Path) -> None:
    (workdir / "pik-recon.toml").write_text(
        f'[accounts.shop]\nkey_env = "{LEAKED}"\nbase_url = "{sandbox.base_url}"\n')
    env = cli_env(workdir, sandbox.base_url)
    outputs = []
    for args in (["sync"], ["-v", "sync"], ["-v", "--log-format", "json", "sync"],
                 ["-v", "status"]):
        done = invoke_cli(args, env, workdir)
        assert done.returncode == 2, done.stderr
        assert "[accounts.shop] key_env: expected the name of the environment variable" in (
            done.stderr)
        outputs += [done.stdout, done.stderr]
    assert not [text for text in outputs if LEAKED in text]
    assert not (workdir / "wh.duckdb").exists()


# (what the key holds, what the message says of it)
BROKEN_KEYS = [(API_KEY + "\n", f"a line break (character {len(API_KEY) + 1}"),
               (API_KEY[:8] + "é" + API_KEY[8:], "a non-ASCII character (character 9"),
               (API_KEY[:5] + "\x07" + API_KEY[5:], "a control character (character 6"),
               (API_KEY + " trailing", "a space")]


@pytest.mark.parametrize(("key", "said"), BROKEN_KEYS,
                         ids=["newline", "non-ascii", "control", "space"])
def test_a_key_no_api_key_could_be_is_refused_at_once_and_never_shown(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path, key: str,
        said: str) -> None:
    done = invoke_cli(["-v", "sync"], cli_env(workdir, sandbox.base_url, key=key), workdir)
    assert done.returncode == 2, done.stderr
    assert f"The PIK API key in PIK_API_KEY holds {said}" in done.stderr
    assert API_KEY[9:] not in done.stdout + done.stderr
    assert served(sandbox_state) == 0  # refused before a request went out


class ProxyWatch:
    """A listening socket on loopback that counts the connections made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


def test_plain_http_is_never_sent_through_the_environments_proxy(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    proxy = ProxyWatch()
    env = {k: v for k, v in cli_env(workdir, sandbox.base_url).items()
           if k.lower() not in ("no_proxy", "http_proxy", "https_proxy", "all_proxy")}
    env.update(HTTP_PROXY=proxy.url, http_proxy=proxy.url, ALL_PROXY=proxy.url)
    try:
        done = invoke_cli(["sync"], env, workdir)
    finally:
        proxy.sock.close()
    assert done.returncode == 0, done.stderr
    assert served(sandbox_state) > 0  # the sandbox answered the sync itself
    assert proxy.connections == 0

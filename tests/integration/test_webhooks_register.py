"""`pik-recon webhooks register` against the sandbox, and the sandbox's /webhooks."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState
from tests.conftest import cli_env, json_results, run_cli
from tests.webhook_support import ReceiverProcess, event_body, sign

URL = "https://shop.example/webhooks"


def _secrets(state: SandboxState) -> list[str]:
    with state.lock:
        return [e.secret for e in state.webhooks.endpoints.values()]


def test_register_writes_the_secret_to_an_owner_only_file_and_prints_none_of_it(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    env = cli_env(workdir, sandbox.base_url)
    done = run_cli(["-v", "webhooks", "register", URL, "--events", "payment.settled",
                    "--events", "payment.confirmed"], env, workdir)
    assert done.returncode == 0, done.stderr

    (secret,) = _secrets(sandbox_state)
    target = workdir / "pik-webhook-secret.default"  # beside the config file
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text() == f"PIK_WEBHOOK_SECRET={secret}\n"
    assert secret not in done.stdout + done.stderr
    assert f"Its secret is in {target} (readable by you only)" in done.stdout
    assert [p.name for p in workdir.iterdir() if p.name.startswith(".")] == []  # no temp file
    with sandbox_state.lock:
        (endpoint,) = sandbox_state.webhooks.endpoints.values()
    assert (endpoint.url, endpoint.events) == (URL, ("payment.settled", "payment.confirmed"))

    # the file is what the receiver's environment needs: its events are taken
    variable, value = target.read_text().strip().split("=", 1)
    receiver_env = {**env, variable: value}
    with ReceiverProcess(receiver_env, workdir, workdir) as receiver:
        body = event_body(1)
        assert httpx.post(receiver.url(), content=body,
                          headers={"PIK-Signature": sign(body, value)}).status_code == 200
        assert receiver.stop() == 0


def test_register_never_overwrites_a_secret_file_unless_forced(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    env = cli_env(workdir, sandbox.base_url)
    target = workdir / "secret.env"
    assert run_cli(["webhooks", "register", URL, "--secret-file", str(target)], env,
                   workdir).returncode == 0
    first = target.read_text()
    again = run_cli(["webhooks", "register", URL + "/2", "--secret-file", str(target)], env,
                    workdir)
    assert again.returncode == 2
    assert f"--secret-file {target} exists already; give --force to replace it" in again.stderr
    assert target.read_text() == first
    assert len(_secrets(sandbox_state)) == 1  # nothing was sent
    forced = run_cli(["--log-format", "json", "webhooks", "register", URL + "/2",
                      "--secret-file", str(target), "--force"], env, workdir)
    assert forced.returncode == 0, forced.stderr
    assert target.read_text() == f"PIK_WEBHOOK_SECRET={_secrets(sandbox_state)[1]}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    (result,) = json_results(forced.stdout, "webhooks_register")
    assert (result["url"], result["secret_file"], result["variable"]) == (
        URL + "/2", str(target), "PIK_WEBHOOK_SECRET")
    assert _secrets(sandbox_state)[1] not in forced.stdout + forced.stderr


def test_a_url_pik_refuses_is_said_plainly_and_leaves_no_file(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    env = cli_env(workdir, sandbox.base_url)
    plain = "http://shop.example/webhooks"
    done = run_cli(["webhooks", "register", plain], env, workdir)
    assert done.returncode == 2
    assert (f"PIK refused to register {plain} (400): PIK sends events only to public "
            "https:// addresses") in done.stderr
    assert list(workdir.glob("*secret*")) == [] and list(workdir.glob(".*")) == []
    with sandbox_state.lock:
        assert sandbox_state.webhooks.endpoints == {}


def test_a_url_registered_already_is_refused_unless_a_duplicate_is_asked_for(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    env = cli_env(workdir, sandbox.base_url)
    assert run_cli(["webhooks", "register", URL, "--secret-file", str(workdir / "a")], env,
                   workdir).returncode == 0
    with sandbox_state.lock:
        (first,) = sandbox_state.webhooks.endpoints
    twice = run_cli(["webhooks", "register", URL, "--secret-file", str(workdir / "b")], env,
                    workdir)
    assert twice.returncode == 2
    assert f"PIK has {first} for {URL} already (status active)" in twice.stderr
    assert not (workdir / "b").exists()
    assert run_cli(["webhooks", "register", URL, "--secret-file", str(workdir / "b"),
                    "--allow-duplicate"], env, workdir).returncode == 0
    assert len(_secrets(sandbox_state)) == 2

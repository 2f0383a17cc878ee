"""`pik-recon webhooks serve` as a real process on loopback: signatures, duplicates, bounds,
accounts, start-up refusals and a clean stop."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import accounts_env, cli_env, run_cli, warehouse_rows, write_accounts_config
from tests.webhook_support import SECRET, SECRETS, ReceiverProcess, event_body, sign


def _env(workdir: Path, **extra: str) -> dict[str, str]:
    return {**cli_env(workdir, "http://127.0.0.1:9/v1", key=None), "PIK_WEBHOOK_SECRET": SECRET,
            **extra}


def _post(url: str, body: bytes, signature: str | None, client: httpx.Client | None = None) -> int:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["PIK-Signature"] = signature
    if client is None:
        return httpx.post(url, content=body, headers=headers, timeout=30).status_code
    return client.post(url, content=body, headers=headers).status_code


def _spooled(workdir: Path) -> str:
    """Every byte of the spool, as text."""
    return "".join(p.read_text() for p in (workdir / "wh.webhooks").iterdir()
                   if p.suffix in (".open", ".jsonl"))


def test_a_wrong_missing_or_altered_signature_is_401_and_stores_nothing(workdir: Path) -> None:
    good, altered = event_body(1), event_body(1, amount="7510.00")
    other = event_body(2)
    env = _env(workdir)
    with ReceiverProcess(env, workdir, workdir) as receiver:
        url = receiver.url()
        refused = [_post(url, other, None), _post(url, other, ""),
                   _post(url, other, sign(other, "whsec_another_secret")),
                   _post(url, altered, sign(good)),  # a real signature, replayed on a new body
                   _post(url, other, "zz" * 32)]
        assert refused == [401] * 5
        assert _post(url, good, sign(good)) == 200
        assert receiver.stop() == 0

    spool = _spooled(workdir)
    assert json.dumps(good.decode())[1:-1] in spool  # the good one is on disk...
    assert "evt_000002" not in spool and "7510.00" not in spool  # ...and nothing refused
    done = run_cli(["webhooks", "load"], env, workdir)
    assert done.returncode == 0, done.stderr
    db = workdir / "wh.duckdb"
    assert warehouse_rows(db, "SELECT event_id, amount_text, signed, body FROM "
                              "webhook_events") == [("evt_000001", "75.10", True, good.decode())]
    assert dict(warehouse_rows(db, "SELECT reason, sum(deliveries)::INT FROM webhook_rejections "
                                   "WHERE account = 'default' GROUP BY reason")) == {
        "missing_signature": 2, "bad_signature": 3}


def test_the_same_event_delivered_three_times_is_stored_once(workdir: Path) -> None:
    body = event_body(7)
    env = _env(workdir)
    with ReceiverProcess(env, workdir, workdir) as receiver:
        assert [_post(receiver.url(), body, sign(body)) for _ in range(3)] == [200] * 3
        assert _spooled(workdir).count("evt_000007") == 3  # every delivery kept until loaded
        first = run_cli(["--log-format", "json", "webhooks", "load"], env, workdir)
        assert first.returncode == 0, first.stderr
        assert _post(receiver.url(), body, sign(body)) == 200  # PIK retries after the load
        assert receiver.stop() == 0
    again = run_cli(["--log-format", "json", "webhooks", "load"], env, workdir)
    assert again.returncode == 0, again.stderr

    assert warehouse_rows(workdir / "wh.duckdb", "SELECT event_id, count(*) FROM "
                          "webhook_events GROUP BY ALL") == [("evt_000007", 1)]
    results = [json.loads(line) for text in (first.stdout, again.stdout)
               for line in text.splitlines() if '"webhooks_load"' in line]
    # the first load read the segment the receiver was writing and left it; the second
    # reads it again, closed, with the fourth delivery, and removes it
    assert [(r["deliveries"], r["stored"], r["duplicates"], r["left"]) for r in results] == [
        (3, {"default": 1}, 2, 1), (4, {}, 4, 0)]
    assert not list((workdir / "wh.webhooks").glob("*.jsonl"))  # loaded segments are gone


def test_unknown_accounts_big_bodies_and_signed_non_events_are_refused(workdir: Path) -> None:
    big = b'{"event":"payment.confirmed","id":"evt_big","pad":"' + b"x" * 70_000 + b'"}'
    not_event = b'{"id": "evt_no_type"}'
    env = _env(workdir)
    with ReceiverProcess(env, workdir, workdir) as receiver:
        assert _post(receiver.url("elsewhere"), event_body(1), sign(event_body(1))) == 404
        assert _post(receiver.url(), big, sign(big)) == 413
        assert _post(receiver.url(), not_event, sign(not_event)) == 400
        assert _post(receiver.url(), b"[1, 2]", sign(b"[1, 2]")) == 400
        assert receiver.stop() == 0
    assert run_cli(["webhooks", "load"], env, workdir).returncode == 0
    db = workdir / "wh.duckdb"
    assert warehouse_rows(db, "SELECT count(*) FROM webhook_events") == [(0,)]
    assert warehouse_rows(db, "SELECT reason, deliveries FROM webhook_rejections") == [
        ("not_an_event", 2)]


def test_each_account_checks_signatures_with_its_own_secret(workdir: Path) -> None:
    write_accounts_config(workdir, {"north": "http://127.0.0.1:9/v1",
                                    "south": "http://127.0.0.1:9/v1"})
    env = {**accounts_env(workdir, {}), "PIK_WEBHOOK_SECRET_NORTH": SECRETS["north"],
           "PIK_WEBHOOK_SECRET_SOUTH": SECRETS["south"]}
    body = event_body(3)
    with ReceiverProcess(env, workdir, workdir) as receiver:
        announced = receiver.out.read_text()
        assert f"account north: {receiver.url('north')}" in announced
        assert f"account south: {receiver.url('south')}" in announced
        assert _post(receiver.url("north"), body, sign(body, SECRETS["south"])) == 401
        assert _post(receiver.url("south"), body, sign(body, SECRETS["south"])) == 200
        assert _post(receiver.url(), body, sign(body, SECRETS["south"])) == 404  # no default
        assert receiver.stop() == 0
    assert run_cli(["webhooks", "load"], env, workdir).returncode == 0
    db = workdir / "wh.duckdb"
    assert warehouse_rows(db, "SELECT account, event_id FROM webhook_events") == [
        ("south", "evt_000003")]
    assert warehouse_rows(db, "SELECT account, reason, deliveries FROM webhook_rejections"
                          ) == [("north", "bad_signature", 1)]


@pytest.mark.parametrize(("value", "message"), [
    (None, "no webhook secret is set, so there is nothing to receive: set PIK_WEBHOOK_SECRET "
           "(account default)"),
    ("whsec_pasted_with_a_newline\n", "PIK_WEBHOOK_SECRET (account default) does not hold a "
                                      "PIK webhook secret"),
    ("not_a_pik_secret_Qz81", "PIK_WEBHOOK_SECRET (account default) does not hold a PIK "
                              "webhook secret")])
def test_a_receiver_without_a_usable_secret_refuses_to_start(workdir: Path, value: str | None,
                                                             message: str) -> None:
    env = cli_env(workdir, "http://127.0.0.1:9/v1", key=None)
    if value is not None:
        env["PIK_WEBHOOK_SECRET"] = value
    done = run_cli(["webhooks", "serve", "--port", "0"], env, workdir, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr
    assert value is None or value.strip() not in done.stderr + done.stdout


def test_sigterm_answers_what_is_in_flight_and_exits_0(workdir: Path) -> None:
    env = _env(workdir)
    bodies = [event_body(n) for n in range(400)]
    with ReceiverProcess(env, workdir, workdir) as receiver, httpx.Client(timeout=30) as client:
        url = receiver.url()

        def deliver(body: bytes) -> tuple[bytes, int | None]:
            try:
                return body, _post(url, body, sign(body), client)
            except httpx.TransportError:  # sent after the receiver stopped listening
                return body, None

        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(deliver, b) for b in bodies]
            while sum(f.done() for f in futures) < 100:
                time.sleep(0.001)
            code = receiver.stop()
            answers = [f.result() for f in futures]
    assert code == 0
    stored = [b for b, status in answers if status == 200]
    assert 100 <= len(stored) < len(bodies)  # it stopped while deliveries were going on
    assert {status for _, status in answers} <= {200, None}
    spool = _spooled(workdir)
    assert [b for b in stored if json.dumps(b.decode())[1:-1] not in spool] == []
    assert not list((workdir / "wh.webhooks").glob("*.open"))  # its segment closed

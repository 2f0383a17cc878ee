"""`pik-recon webhooks load`: exact amounts, a torn tail, a segment loaded twice, and an
events export from PIK's dashboard."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import httpx

from tests.conftest import cli_env, invoke_cli, json_results, pik_recon_cmd, warehouse_rows
from tests.webhook_support import SECRET, ReceiverProcess, event_body, sign


def _env(workdir: Path) -> dict[str, str]:
    return {**cli_env(workdir, "http://127.0.0.1:9/v1", key=None), "PIK_WEBHOOK_SECRET": SECRET}


def _deliver(url: str, bodies: list[bytes]) -> None:
    for body in bodies:
        assert httpx.post(url, content=body, headers={"PIK-Signature": sign(body)},
                          timeout=30).status_code == 200


def test_amounts_are_exact_and_one_that_is_not_a_decimal_string_is_not_trusted(
        workdir: Path) -> None:
    amounts = {1: "0.000000000000000001", 2: "12345678901234567890.123456789012345678",
               3: 75.1, 4: "1e3", 5: None, 6: "75"}
    env = _env(workdir)
    with ReceiverProcess(env, workdir, workdir) as receiver:
        _deliver(receiver.url(), [event_body(n, amount=a) for n, a in amounts.items()])
        assert receiver.stop() == 0
    assert invoke_cli(["webhooks", "load"], env, workdir).returncode == 0
    rows = warehouse_rows(workdir / "wh.duckdb", "SELECT event_id, amount, amount_text FROM "
                                                 "webhook_events ORDER BY event_id")
    assert rows == [
        ("evt_000001", Decimal("0.000000000000000001"), "0.000000000000000001"),
        ("evt_000002", Decimal("12345678901234567890.123456789012345678"),
         "12345678901234567890.123456789012345678"),
        ("evt_000003", None, "75.1"),  # a JSON number: kept as written, amount not trusted
        ("evt_000004", None, "1e3"),
        ("evt_000005", None, None),
        ("evt_000006", Decimal("75"), "75")]


def test_a_torn_tail_is_skipped_and_a_segment_loaded_twice_loads_nothing_new(
        workdir: Path) -> None:
    env = _env(workdir)
    bodies = [event_body(n) for n in range(10)]
    with ReceiverProcess(env, workdir, workdir) as receiver:
        _deliver(receiver.url(), bodies)
        receiver.kill()
    (segment,) = (workdir / "wh.webhooks").glob("*.open")  # its receiver is dead
    whole = segment.read_bytes()
    # what a write cut short leaves: the first half of a record, never answered 200
    torn = json.dumps({"v": 1, "kind": "event", "account": "default",
                       "received_at": "2026-12-01T10:00:00.000000Z", "signature": "00",
                       "body": event_body(99).decode()}).encode()
    segment.write_bytes(whole + torn[: len(torn) // 2])
    kept = workdir / "copy"
    shutil.copy(segment, kept)

    first = invoke_cli(["--log-format", "json", "webhooks", "load"], env, workdir)
    assert first.returncode == 0, first.stderr
    assert not segment.exists()
    shutil.copy(kept, segment)  # as if the loader had died after its commit, before removing
    again = invoke_cli(["--log-format", "json", "webhooks", "load"], env, workdir)
    assert again.returncode == 0, again.stderr

    results = [json_results(d.stdout, "webhooks_load")[0] for d in (first, again)]
    assert [(r["deliveries"], r["stored"], r["torn"], r["removed"]) for r in results] == [
        (10, {"default": 10}, 1, 1), (10, {}, 1, 1)]
    assert warehouse_rows(workdir / "wh.duckdb", "SELECT count(*), "
                          "count(*) FILTER (WHERE event_id = 'evt_000099') FROM "
                          "webhook_events") == [(10, 0)]
    assert not segment.exists()


def test_an_export_loads_unsigned_and_a_signed_delivery_takes_its_place(
        workdir: Path) -> None:
    env = _env(workdir)
    export = workdir / "events.jsonl"
    export.write_text(f"{event_body(1).decode()}\n\n{event_body(2).decode()}\n",
                      encoding="utf-8")
    done = invoke_cli(["webhooks", "load", str(export)], env, workdir)
    assert done.returncode == 0, done.stderr
    assert f"{export}: 2 new webhook events stored (unsigned), 0 already held" in done.stdout
    db = workdir / "wh.duckdb"
    query = "SELECT event_id, signed, source FROM webhook_events ORDER BY event_id"
    assert warehouse_rows(db, query) == [("evt_000001", False, "file:events.jsonl"),
                                         ("evt_000002", False, "file:events.jsonl")]

    with ReceiverProcess(env, workdir, workdir) as receiver:
        _deliver(receiver.url(), [event_body(2)])
        assert receiver.stop() == 0
    assert invoke_cli(["webhooks", "load"], env, workdir).returncode == 0
    assert warehouse_rows(db, query) == [("evt_000001", False, "file:events.jsonl"),
                                         ("evt_000002", True, "receiver")]
    # an export never overwrites a signed event
    export.write_text(event_body(2, amount="1.00").decode() + "\n", encoding="utf-8")
    assert invoke_cli(["webhooks", "load", str(export)], env, workdir).returncode == 0
    assert warehouse_rows(db, "SELECT signed, amount_text FROM webhook_events WHERE "
                              "event_id = 'evt_000002'") == [(True, "75.10")]


def test_an_export_with_a_line_that_is_not_an_event_loads_nothing(workdir: Path) -> None:
    env = _env(workdir)
    export = workdir / "events.jsonl"
    export.write_text(f"{event_body(1).decode()}\n{{\"id\": 5, \"event\": \"x\"}}\nnot json\n",
                      encoding="utf-8")
    done = invoke_cli(["webhooks", "load", str(export)], env, workdir)
    assert done.returncode == 2
    assert f"{export}: 2 lines are not events; nothing was loaded" in done.stderr
    assert f"{export} line 2: not an event" in done.stderr
    assert f"{export} line 3: not an event" in done.stderr
    assert warehouse_rows(workdir / "wh.duckdb", "SELECT count(*) FROM webhook_events") == [
        (0,)]
    spool_with_account = invoke_cli(["webhooks", "load", "--account", "default"], env, workdir)
    assert spool_with_account.returncode == 2
    assert "--account names the account of a FILE" in spool_with_account.stderr


def test_a_spool_of_more_segments_than_open_files_allowed_loads_whole(workdir: Path) -> None:
    env = _env(workdir)
    with ReceiverProcess(env, workdir, workdir) as receiver:
        _deliver(receiver.url(), [event_body(n) for n in range(3)])
        assert receiver.stop() == 0
    spool = workdir / "wh.webhooks"
    (segment,) = spool.glob("*.jsonl")
    for number in range(300):  # a week's segments of a receiver no sync has loaded
        shutil.copy(segment, spool / f"20261201T000000{number:06d}Z-copy-0000.jsonl")

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))

    done = subprocess.run([*pik_recon_cmd(), "--log-format", "json", "webhooks", "load"],
                          env=env, cwd=workdir, capture_output=True, text=True, timeout=300,
                          preexec_fn=few_files)
    assert done.returncode == 0, done.stderr
    (result,) = json_results(done.stdout, "webhooks_load")
    assert (result["segments"], result["removed"], result["stored"]) == (301, 301,
                                                                         {"default": 3})
    assert list(spool.glob("*.jsonl")) == []

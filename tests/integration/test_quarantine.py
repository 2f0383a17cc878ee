"""Malformed records are quarantined whole, with reasons; the rest of the sync is unaffected."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from pik_recon.links import STATUSES as LINK_STATUSES
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from tests.conftest import cli_env, invoke_cli, sandbox_snapshot, warehouse_rows, warehouse_snapshot

GOOD = {"url": "https://pay.pik.global/l/x", "currency": "USDT", "description": "d",
        "created_at": "2026-11-01T10:00:00.000000Z"}
MALFORMED = [
    ({**GOOD, "amount": "5.00", "status": "paid"}, "paid", "missing id"),
    ({**GOOD, "id": "pl_bad_amount", "amount": "abc", "status": "paid"}, "paid",
     "amount 'abc' is not a decimal number"),
    ({**GOOD, "id": "pl_bad_status", "amount": "1", "status": "refunding"}, "expired",
     "unknown status 'refunding'"),
    ({**GOOD, "id": "pl_bad_type", "amount": 12.5, "status": "active"}, "active",
     "amount must be a decimal string, got float"),
    ({**GOOD, "id": 12345, "amount": "1", "status": "paid"}, "paid", "missing id"),
    ({**GOOD, "id": "pl_bad_time", "amount": "1", "status": "paid", "created_at": "yesterday"},
     "paid", "created_at 'yesterday' is not an ISO 8601 time"),
]


def test_malformed_records_are_quarantined(sandbox: SandboxServer, sandbox_state: SandboxState,
                                           workdir: Path) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, 1_500)
        for record, status, _ in MALFORMED:
            sandbox_state.inject_raw(record, status)
    env = cli_env(workdir, sandbox.base_url)

    done = invoke_cli(["sync"], env, workdir)

    assert done.returncode == 0, done.stderr
    assert f"quarantined {len(MALFORMED)}" in done.stdout
    db = workdir / "wh.duckdb"
    rows = warehouse_rows(db, "SELECT listed_status, reason, record FROM quarantine "
                              "WHERE resource = 'links' ORDER BY id")
    found = {(reason, json.loads(record).get("amount")): listed for listed, reason, record in rows}
    assert set(found) == {(reason, record.get("amount")) for record, _, reason in MALFORMED}
    # under the status list that showed it: its own, or another the drift moved it to; none
    # when only the list of every link showed it
    for record, _, reason in MALFORMED:
        assert found[(reason, record.get("amount"))] in (None, *LINK_STATUSES)
    # the proof counts them: PIK's total includes them, so the sync is still verified
    assert warehouse_rows(db, "SELECT resource, quarantined, verified FROM sync_runs "
                              "ORDER BY id") == [
        ("links", len(MALFORMED), True), ("transactions", 0, True)]

    with sandbox_state.lock:
        sandbox_state.faults.drift_per_request = 0
    assert invoke_cli(["sync"], env, workdir).returncode == 0
    assert warehouse_snapshot(db) == sandbox_snapshot(sandbox_state)


# PIK's API: an amount is a decimal string, as PIK writes it ("75.00", "75"). Anything else is
# quarantined, whether the warehouse's bulk reader (zero) or Python judges it.
NOT_PLAIN = ["-7.00", "1e3", "+5", " 5", "5 ", ".5", "5.", "٣"]
NOT_POSITIVE = ["0", "0.00"]


def test_amounts_that_are_not_plain_positive_decimals_are_quarantined(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, 300)
    planted = {f"pl_amount_{n}": amount for n, amount in enumerate(NOT_PLAIN + NOT_POSITIVE)}
    for link_id, amount in planted.items():  # through the sandbox's admin endpoint
        record = {**GOOD, "id": link_id, "amount": amount, "status": "paid"}
        request = urllib.request.Request(
            f"{sandbox.admin_url}/inject", method="POST",
            data=json.dumps({"record": record, "status": "paid"}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

    done = invoke_cli(["sync"], cli_env(workdir, sandbox.base_url), workdir)

    assert done.returncode == 0, done.stderr
    assert f"quarantined {len(planted)}" in done.stdout
    db = workdir / "wh.duckdb"
    held = warehouse_rows(db, "SELECT id FROM payment_links WHERE id LIKE 'pl_amount_%'")
    assert held == []
    reasons = dict(warehouse_rows(db, "SELECT DISTINCT link_id, reason FROM quarantine "
                                      "WHERE resource = 'links'"))
    assert reasons == {
        link_id: (f"amount {amount!r} is not positive" if amount in NOT_POSITIVE else
                  f"amount {amount!r} is not a plain positive decimal (digits, optionally a "
                  "point and decimals, e.g. '75.00')")
        for link_id, amount in planted.items()}


def test_a_quarantined_record_is_counted_once_and_never_as_held(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    """PIK lists a malformed paid link in its paid list and among every link: each sync,
    full or incremental, quarantines it once, under paid, and its table shows what the
    warehouse holds, saying the one PIK lists beyond it was quarantined."""
    with sandbox_state.lock:
        generate_links(sandbox_state, 300)
        sandbox_state.faults.drift_per_request = 0
        sandbox_state.inject_raw({**GOOD, "id": "pl_float_amount", "amount": 75.1,
                                  "status": "paid"}, "paid")
        pik_paid = sandbox_state.counts()["paid"]
    env = cli_env(workdir, sandbox.base_url)
    db = workdir / "wh.duckdb"
    for args, mode in ((["sync"], "full"), (["sync"], "incremental"),
                       (["sync", "--full"], "full")):
        done = invoke_cli(["--log-format", "json", *args], env, workdir)
        assert done.returncode == 0, done.stderr
        links = [r for r in map(json.loads, done.stdout.splitlines())
                 if r.get("resource") == "links"]
        assert [(r["mode"], r["quarantined"], r["warehouse_counts"]["paid"],
                 r["pik_totals"]["paid"], r["moved"]) for r in links] == [
            (mode, 1, pik_paid - 1, pik_paid, 0)]
    text = invoke_cli(["sync"], env, workdir)
    assert text.returncode == 0, text.stderr
    assert f"paid               {pik_paid - 1}        {pik_paid}" in text.stdout
    assert "quarantined 1," in text.stdout
    assert "1 link PIK lists (1 paid) not held: malformed, quarantined instead" in text.stdout
    assert "under another status" not in text.stdout
    held = warehouse_rows(db, "SELECT count(*) FROM payment_links WHERE status = 'paid'")
    assert held == [(pik_paid - 1,)]
    assert warehouse_rows(db, "SELECT DISTINCT listed_status, link_id, count(*) OVER "
                              "(PARTITION BY sync_run_id) FROM quarantine") == [
        ("paid", "pl_float_amount", 1)]


def test_a_held_link_served_malformed_leaves_the_sync_unverified_naming_it(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    """A link synced active whose record PIK later serves malformed (paid, its paid_at
    without a zone): the warehouse keeps the last readable status, and the sync, full or
    incremental, is not verified (exit 4), naming the link, rather than passing a state that
    may be out of date off as current. Status and the report say it; once PIK serves the
    record readable, the next sync is verified and holds it paid."""
    with sandbox_state.lock:
        generate_links(sandbox_state, 200)
        sandbox_state.faults.drift_per_request = 0
        link = sandbox_state.create("250.00", "USDT", "Order #Q1")
    env = cli_env(workdir, sandbox.base_url)
    first = invoke_cli(["sync"], env, workdir)
    assert first.returncode == 0, first.stderr
    assert "came malformed" not in first.stdout
    with sandbox_state.lock:
        sandbox_state.remove(link)
        broken = sandbox_state.inject_raw({**GOOD, "id": link.id, "amount": "250.00",
                                           "status": "paid", "paid_at": "2026-12-03 10:00:00"},
                                          "paid")
    verdict = (f"not verified: PIK served 1 link the warehouse holds malformed this time: "
               f"{link.id} (held as active); the warehouse keeps the last readable status, "
               "which may be out of date (the quarantine table says why); sync again once PIK "
               "serves it readable")
    for args in (["sync"], ["sync", "--full"]):
        done = invoke_cli(args, env, workdir)
        assert done.returncode == 4, done.stderr
        assert (f"1 link held came malformed this time: {link.id} (active). The warehouse "
                "keeps the last readable status, which may be out of date") in done.stdout
        assert verdict in done.stderr
    assert warehouse_rows(workdir / "wh.duckdb",
                          f"SELECT status FROM payment_links WHERE id = '{link.id}'") == [
        ("active",)]
    shown = invoke_cli(["status"], env, workdir)
    assert f"WARNING: the last sync could not verify the links: {verdict}" in shown.stdout
    assert invoke_cli(["reconcile"], env, workdir).returncode == 0
    out = workdir / "rep"
    reported = invoke_cli(["report", "--since", "30d", "--out", str(out), "--format", "json"],
                          env, workdir)
    assert reported.returncode == 0, reported.stderr
    assert "could not verify the links" in reported.stdout
    freshness = json.loads((out / "report.json").read_text(encoding="utf-8"))["freshness"]
    assert (freshness["verified"], freshness["verdict"]) == (False, verdict)
    with sandbox_state.lock:
        sandbox_state.remove(broken)
        sandbox_state.inject_raw({**GOOD, "id": link.id, "amount": "250.00", "status": "paid",
                                  "paid_at": "2026-12-03T10:00:00Z"}, "paid")
    mended = invoke_cli(["sync"], env, workdir)
    assert mended.returncode == 0, mended.stderr
    assert "came malformed" not in mended.stdout
    assert warehouse_rows(workdir / "wh.duckdb",
                          f"SELECT status FROM payment_links WHERE id = '{link.id}'") == [
        ("paid",)]

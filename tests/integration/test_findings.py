"""Finance closing findings through the command line: ack, recur, change, reopen, a CSV."""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState
from pik_recon.warehouse import Warehouse
from tests.conftest import cli_env, invoke_cli, warehouse_rows

ORDERS = ("order_id,amount,currency,status,created_at\n"
          "A1,10.50,USDT,awaiting_payment,2026-11-10T10:00:00Z\n"
          "A2,0.0100,BTC,paid,2026-11-10T10:00:00Z\n"
          "A3,20.00,USDT,cancelled,2026-11-10T10:00:00Z\n"
          "A4,30.00,USDT,paid,2026-11-10T10:00:00Z\n")
# paid links: A1 underpaid, A2 paid in another currency, A3 paid though cancelled, A4 clean
LINKS = (("A1", "10.00", "USDT"), ("A2", "0.0100", "USDT"), ("A3", "20.00", "USDT"),
         ("A4", "30.00", "USDT"))


def _shop(sandbox_state: SandboxState, workdir: Path) -> dict[str, str]:
    with sandbox_state.lock:
        sandbox_state.faults.drift_per_request = 0  # the findings are those of these links
        for order, amount, currency in LINKS:
            link = sandbox_state.create(amount, currency, f"Order #{order}")
            sandbox_state.transactions.pay(link)  # its amount in full, confirmed
    (workdir / "orders.csv").write_text(ORDERS, encoding="utf-8")
    return cli_env(workdir, "http://127.0.0.1:9/v1")


def _cli(env: dict[str, str], workdir: Path, *args: str) -> tuple[int, str]:
    done = invoke_cli(list(args), env, workdir)
    return done.returncode, done.stdout + done.stderr


def _findings(env: dict[str, str], workdir: Path, *options: str) -> list[dict]:
    done = invoke_cli(["--log-format", "json", "findings", "list", *options], env, workdir)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["findings"]


def _report(env: dict[str, str], workdir: Path, out: str) -> tuple[int, dict]:
    code, _ = _cli(env, workdir, "report", "--since", "2026-11-01", "--until", "2026-12-01",
                   "--out", str(workdir / out), "--fail-on", "critical")
    return code, json.loads((workdir / out / "report.json").read_text())


def test_an_acknowledgement_sticks_while_unchanged_and_lapses_when_the_order_changes(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    env = {**_shop(sandbox_state, workdir), "PIK_BASE_URL": sandbox.base_url}
    assert _cli(env, workdir, "sync")[0] == 0
    assert _cli(env, workdir, "reconcile", "--orders", str(workdir / "orders.csv"))[0] == 0
    before, report = _report(env, workdir, "r1")
    critical = _findings(env, workdir, "--open", "--severity", "critical")
    assert before == 1 and len(critical) == 3
    assert {f["order_id"] for f in critical} == {"A1", "A2", "A3"}

    ids = [f["id"] for f in critical]
    code, said = _cli(env, workdir, "findings", "ack", *ids, "--note", "refunded on 30 Nov",
                      "--by", "Ann")
    assert code == 0 and f"acknowledged 3 finding(s): {', '.join(ids)}" in said
    assert _cli(env, workdir, "reconcile", "--orders", str(workdir / "orders.csv"))[0] == 0
    after, report = _report(env, workdir, "r2")

    assert after == 0  # was 1: the acknowledged criticals no longer count
    acked = _findings(env, workdir, "--acknowledged")
    assert sorted(f["id"] for f in acked) == sorted(ids)
    assert {(f["note"], f["acknowledged_by"]) for f in acked} == {("refunded on 30 Nov", "Ann")}
    assert (report["findings"]["open"], report["findings"]["acknowledged"]) == (0, 3)
    with (workdir / "r2" / "findings.csv").open(encoding="utf-8", newline="") as fh:
        rows = {r["order_id"]: r for r in csv.DictReader(fh)}
    assert {rows[o]["state"] for o in ("A1", "A2", "A3")} == {"acknowledged"}
    assert rows["A1"]["note"] == "refunded on 30 Nov"

    changed = workdir / "orders-2.csv"  # a newer export: A1 now asks for 10.40
    changed.write_text(ORDERS.replace("A1,10.50", "A1,10.40"), encoding="utf-8")
    later = time.time() + 60
    os.utime(changed, (later, later))
    assert _cli(env, workdir, "reconcile", "--orders", str(changed))[0] == 0
    reopened, _ = _report(env, workdir, "r3")
    states = {f["order_id"]: f["state"] for f in _findings(env, workdir)}

    assert reopened == 1
    assert states["A1"] == "open, changed since acknowledged"
    assert states["A2"] == states["A3"] == "acknowledged"


def test_unknown_ids_reopen_and_acknowledging_from_the_report_s_csv(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    env = {**_shop(sandbox_state, workdir), "PIK_BASE_URL": sandbox.base_url}
    assert _cli(env, workdir, "sync")[0] == 0
    assert _cli(env, workdir, "reconcile", "--orders", str(workdir / "orders.csv"))[0] == 0
    first = _findings(env, workdir, "--severity", "critical")[0]["id"]

    code, said = _cli(env, workdir, "findings", "ack", first, "nope00000000", "--note", "x")
    assert code == 2
    assert "no finding 'nope00000000' in reconciliation run 1" in said
    assert warehouse_rows(workdir / "wh.duckdb", "SELECT count(*) FROM finding_acks") == [(0,)]
    assert _cli(env, workdir, "findings", "ack", first, "--note", "checked")[0] == 0
    code, said = _cli(env, workdir, "findings", "reopen", first, "999999")
    assert code == 2
    assert "no finding '999999' in reconciliation run 1" in said
    assert "nothing was reopened" in said and "acknowledged:" not in said
    assert {f["id"] for f in _findings(env, workdir, "--acknowledged")} == {first}
    assert _cli(env, workdir, "findings", "reopen", first)[0] == 0
    assert {f["id"] for f in _findings(env, workdir, "--acknowledged")} == set()

    _report(env, workdir, "r")
    sheet = workdir / "r" / "findings.csv"
    with sheet.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:  # finance writes a note against two findings, in Excel
        row["note"] = "refund sent" if row["order_id"] in ("A2", "A3") else ""
    edited = workdir / "edited.csv"
    with edited.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    code, said = _cli(env, workdir, "findings", "ack", "--from", str(edited), "--by", "Bo")
    again, said_again = _cli(env, workdir, "findings", "ack", "--from", str(edited))

    assert code == 0 and "acknowledged 2 finding(s)" in said
    assert again == 0 and "acknowledged 0 finding(s): none; 2 acknowledged with that note " \
        "already" in said_again
    acked = {f["order_id"]: f["acknowledged_by"] for f in _findings(env, workdir, "--acknowledged")}
    assert acked == {"A2": "Bo", "A3": "Bo"}


def test_reconcile_before_any_sync_is_refused_and_stores_nothing(workdir: Path) -> None:
    (workdir / "orders.csv").write_text(ORDERS, encoding="utf-8")
    Warehouse.open(workdir / "wh.duckdb").close()  # a warehouse no sync has filled
    env = cli_env(workdir, "http://127.0.0.1:9/v1")
    code, said = _cli(env, workdir, "reconcile", "--orders", str(workdir / "orders.csv"))
    assert code == 2
    assert "no sync has completed; run `pik-recon sync` first" in said
    assert warehouse_rows(workdir / "wh.duckdb", "SELECT (SELECT count(*) FROM reconcile_runs) "
                          "+ (SELECT count(*) FROM findings) + (SELECT count(*) FROM "
                          "order_imports) + (SELECT count(*) FROM orders)") == [(0,)]


def test_notes_written_against_an_earlier_run_are_refused_once_the_finding_changed(
        sandbox: SandboxServer, sandbox_state: SandboxState, workdir: Path) -> None:
    """A report's findings.csv says which run it was written from: a note on a finding that
    has changed since (the order asks for another amount) is about what that run said, so
    the file is refused whole; unchanged findings of an older run are acknowledged."""
    env = {**_shop(sandbox_state, workdir), "PIK_BASE_URL": sandbox.base_url}
    assert _cli(env, workdir, "sync")[0] == 0
    assert _cli(env, workdir, "reconcile", "--orders", str(workdir / "orders.csv"))[0] == 0
    _report(env, workdir, "r1")
    with (workdir / "r1" / "findings.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["note"] = "checked" if row["order_id"] in ("A1", "A3") else ""
    noted = workdir / "noted.csv"
    with noted.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    changed = workdir / "orders-2.csv"  # a newer export: A1 now asks for 400.00
    changed.write_text(ORDERS.replace("A1,10.50", "A1,400.00"), encoding="utf-8")
    later = time.time() + 60
    os.utime(changed, (later, later))
    assert _cli(env, workdir, "reconcile", "--orders", str(changed))[0] == 0

    code, said = _cli(env, workdir, "findings", "ack", "--from", str(noted))
    a1 = next(r for r in rows if r["order_id"] == "A1")
    assert code == 2
    assert f"finding '{a1['finding_id']}' of run 1 has changed since" in said
    assert "has changed since: order amount 10.50 USDT, now 400.00 USDT" in said
    assert "nothing was acknowledged" in said
    assert warehouse_rows(workdir / "wh.duckdb", "SELECT count(*) FROM finding_acks") == [(0,)]

    for row in rows:  # the changed one left out: the other, unchanged since run 1, is taken
        row["note"] = "checked" if row["order_id"] == "A3" else ""
    with noted.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    code, said = _cli(env, workdir, "findings", "ack", "--from", str(noted))
    assert code == 0 and "acknowledged 1 finding(s)" in said
    assert {f["order_id"] for f in _findings(env, workdir, "--acknowledged")} == {"A3"}

"""What needs attention is every open finding of the last reconciliation, whatever period a
report covers: a report of one day that holds none of them still leads with them all, lists
them, and fails on them."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import threading
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from pik_recon.findings import acknowledge, findings_of
from pik_recon.warehouse import Warehouse
from tests.conftest import invoke_cli
from tests.integration.test_report import build_sample_warehouse
from tests.integration.test_stakes import (
    SEVERITY,
    WEBHOOK,
    per_currency,
    planted_findings,
    planted_stakes,
)

# a day after the sample's reconciliation: no order or link of the sample was created in it
DAY = ("2026-11-21", "2026-11-22")
ACKED = "orphan_paid_link"  # finance acknowledged these: they need nobody any more


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("attention") / "wh.duckdb"
    build_sample_warehouse(db)
    with Warehouse.open(db) as wh:
        keys = [f.key for f in findings_of(wh, ["default"])[1] if f.category == ACKED]
        acknowledge(wh, ["default"], keys, ["refunded"] * len(keys), "ana",
                    datetime(2026, 11, 20, 13, tzinfo=UTC))
    assert keys
    return db


@pytest.fixture
def env(sample_db: Path, tmp_path: Path) -> dict[str, str]:
    db = tmp_path / "wh.duckdb"
    shutil.copy(sample_db, db)
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PIK_")},
            "PIK_RECON_DB": str(db)}


def _day_report(env: dict[str, str], folder: Path, fail_on: str = "never") -> int:
    done = invoke_cli(["report", "--since", DAY[0], "--until", DAY[1], "--out", str(folder),
                       "--fail-on", fail_on], env, folder.parent)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode


def _planted_open(severity: str) -> set[tuple[str, str, str]]:
    """The sample's account has webhook capture off: no webhook finding."""
    return {f for f in planted_findings(leave_out=WEBHOOK)
            if SEVERITY[f[0]] == severity and f[0] != ACKED}


def test_a_one_day_report_leads_with_every_open_critical_finding_of_the_last_run(
        env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "day"
    _day_report(env, out)
    report = json.loads((out / "report.json").read_text())
    critical, warning = _planted_open("critical"), _planted_open("warning")
    assert len(critical) > 30 and len(warning) > 30
    # the period holds no activity ...
    assert all(r[f]["count"] == 0 for r in report["summary"]
               for f in ("invoiced", "collected", "outstanding", "expired_lost", "received",
                         "underpaid", "overpaid"))
    # ... and the headline is every open finding of the last run, with the money in them
    planted = planted_stakes(leave_out=WEBHOOK)
    assert {s["currency"]: s["critical"] for s in report["at_stake"] if s["critical"]} == {
        c: n for c, (n, _) in per_currency(planted, ["critical"], leave_out=[ACKED]).items()}
    assert (report["attention"]["critical"], report["attention"]["warning"]) == (
        len(critical), len(warning))
    for severity in ("critical", "warning"):
        assert {s["currency"]: (s[severity], Decimal(s[f"{severity}_amount"]))
                for s in report["at_stake"] if s[severity]} == per_currency(
            planted, [severity], leave_out=[ACKED])
    page = (out / "report.html").read_text(encoding="utf-8")
    assert re.search(rf'{len(critical)} critical</strong> and <strong class="sev-warning">'
                     rf"{len(warning)} warning</strong> findings need attention", page)
    # every one of them is listed, marked as outside the period
    with (out / "findings.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    listed = {(r["category"], r["order_id"], r["link_ids"]) for r in rows
              if r["state"] == "open"}
    assert listed == critical | warning
    assert {r["in_period"] for r in rows} == {"no"}


def test_fail_on_critical_exits_1_even_when_the_period_holds_none_of_them(
        env: dict[str, str], tmp_path: Path) -> None:
    assert _day_report(env, tmp_path / "critical", "critical") == 1
    assert _day_report(env, tmp_path / "warning", "warning") == 1
    assert _day_report(env, tmp_path / "never", "never") == 0
    with Warehouse.open(Path(env["PIK_RECON_DB"])) as wh:  # finance handles every one
        keys = [f.key for f in findings_of(wh, ["default"])[1]
                if f.severity in ("critical", "warning") and not f.acknowledged]
        acknowledge(wh, ["default"], keys, ["done"] * len(keys), "ana",
                    datetime(2026, 11, 21, tzinfo=UTC))
    assert _day_report(env, tmp_path / "handled", "critical") == 0


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        _Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_the_job_status_and_report_lead_with_the_same_open_findings_whatever_the_period(
        env: dict[str, str], tmp_path: Path) -> None:
    """A nightly job reporting one day: its headline, exit code and alert, `status` and the
    report all count every open finding of the last run, the same figures."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received.clear()
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "daily.toml").write_text(f"""[schedule]
cron = "30 2 * * *"
timezone = "UTC"

[[steps]]
type = "report"
since = "{DAY[0]}"
until = "{DAY[1]}"
out = "{tmp_path / 'out'}"
fail_on = "critical"

[[steps]]
type = "notify"
when = ["critical"]
""")
    (tmp_path / "pik-recon.toml").write_text(
        f'[jobs]\ndir = "{jobs}"\n\n[notify]\nwebhook_url = '
        f'"http://127.0.0.1:{server.server_address[1]}/hook"\nretries = 1\n')
    env = {**env, "PIK_RECON_CONFIG": str(tmp_path / "pik-recon.toml")}
    job = invoke_cli(["--log-format", "json", "run", "daily"], env, tmp_path)
    status = invoke_cli(["--log-format", "json", "status"], env, tmp_path)
    server.shutdown()
    critical, warning = len(_planted_open("critical")), len(_planted_open("warning"))
    assert job.returncode == 1, job.stderr
    (result,) = [json.loads(line) for line in job.stdout.splitlines()
                 if json.loads(line).get("result") == "job"]
    assert (result["critical_findings"], result["warning_findings"]) == (critical, warning)
    assert (_Hook.received[0]["critical_findings"], _Hook.received[0]["exit_code"]) == (
        critical, 1)
    assert _Hook.received[0]["text"].startswith(
        f"pik-recon job daily (run 1): done, {critical} critical findings and {warning} "
        "warning findings need attention (exit 1: the report step's fail_on is critical)")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["attention"]["critical"], report["attention"]["warning"]) == (
        critical, warning)
    assert status.returncode == 0, status.stderr
    (shown,) = [json.loads(line) for line in status.stdout.splitlines()
                if json.loads(line).get("result") == "status"]
    assert (shown["needs_attention"]["critical"], shown["needs_attention"]["warning"]) == (
        critical, warning)
    assert {s["currency"]: Decimal(s["amount"]) for s in shown["needs_attention"]["at_stake"]
            } == {c: a for c, (_, a) in per_currency(
                planted_stakes(leave_out=WEBHOOK), ["critical", "warning"],
                leave_out=[ACKED]).items()}

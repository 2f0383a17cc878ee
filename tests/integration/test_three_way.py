"""Three-way reconciliation (SPEC §6, money received), through the command line's entry point
(in-process; the webhook receiver is a process of its own): generated data with every
category planted on a sandbox seeded from it, `pik-recon sync`, PIK's signed events delivered
to `pik-recon webhooks serve`, reconcile and report. Each category, its transactions and its
money per currency equal what the data was built with.

`pik-recon sync` brings the links and the transactions; a second sync follows, as the next
night's would (its links sync is the verified one after the payments were seen).
"""

from __future__ import annotations

import csv
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import openpyxl
import pytest

from pik_recon.sandbox.seed import seed_from_file
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import Faults, SandboxState
from tests.conftest import API_KEY, FAST_RETRIES, cli_env, invoke_cli
from tests.integration.test_stakes import (
    MONEY,
    MONEY_FIGURES,
    SEVERITY,
    WEBHOOK,
    findings_csv_stakes,
    planted_stakes,
    report_stakes,
)
from tests.webhook_support import SECRET, ReceiverProcess, sign

SEEDS = (31, 32, 33)
ORDERS = 1500
CONFIG = FAST_RETRIES + "\n[report]\ntop_findings = 100000\n"  # every finding in the HTML
Row = tuple[str, str, str, str]  # category, order id, link ids, transaction ids


@dataclass(frozen=True)
class Prepared:
    data: Path  # the generated set
    db: Path  # synced, its transactions and PIK's signed events in it, not reconciled
    as_of: str
    since: str
    until: str


def deliver(url: str, bodies: list[bytes]) -> None:
    """POST each body as PIK does, signed with the receiver's secret: several at once, so
    in no fixed order."""
    with httpx.Client(timeout=30) as client:
        def post(body: bytes) -> None:
            answer = client.post(url, content=body, headers={"PIK-Signature": sign(body),
                                                             "Content-Type": "application/json"})
            assert answer.status_code == 200, answer.text

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(post, bodies))


def _cli(env: dict[str, str], folder: Path, *args: str) -> None:
    done = invoke_cli(args, env, folder)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])


def prepare(folder: Path, seed: int) -> Prepared:
    """The generated set on a quiet sandbox: synced (links and transactions), every event of
    webhook_events.jsonl delivered signed to the receiver, synced again (the spool loaded
    first)."""
    (folder / "pik-recon.toml").write_text(CONFIG, encoding="utf-8")
    data = folder / "data"
    _cli(cli_env(folder, "http://127.0.0.1:9/v1"), folder, "sandbox", "generate", "--orders",
         str(ORDERS), "--seed", str(seed), "--out", str(data))
    state = SandboxState(api_key=API_KEY, faults=Faults(rate_limit_enabled=False))
    seed_from_file(state, data / "links.jsonl")  # and transactions.jsonl beside it
    with SandboxServer(state) as server:
        env = {**cli_env(folder, server.base_url), "PIK_WEBHOOK_SECRET": SECRET}
        _cli(env, folder, "sync")
        bodies = (data / "webhook_events.jsonl").read_bytes().splitlines()
        with ReceiverProcess(env, folder, folder) as receiver:
            deliver(receiver.url(), bodies)
            assert receiver.stop() == 0
        _cli(env, folder, "sync")  # loads the spool first
    figures = json.loads((data / "expected_figures.json").read_text())
    return Prepared(data, folder / "wh.duckdb",
                    json.loads((data / "dataset.json").read_text())["as_of"],
                    figures["since"], figures["until"])


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Prepared]:
    return {seed: prepare(tmp_path_factory.mktemp(f"seed{seed}"), seed) for seed in SEEDS}


def reconcile_and_report(p: Prepared, folder: Path, capture: bool = True) -> Path:
    """A copy of the prepared warehouse reconciled (webhook capture on or off) and
    reported in every format; the report folder."""
    (folder / "pik-recon.toml").write_text(CONFIG, encoding="utf-8")
    shutil.copy(p.db, folder / "wh.duckdb")
    env = cli_env(folder, "http://127.0.0.1:9/v1")
    if capture:
        env["PIK_WEBHOOK_SECRET"] = SECRET
    _cli(env, folder, "reconcile", "--orders", str(p.data / "orders.csv"), "--as-of", p.as_of)
    _cli(env, folder, "report", "--since", p.since, "--until", p.until, "--out",
         str(folder / "out"))
    return folder / "out"


def planted_rows(data: Path, leave_out: tuple[str, ...] = ()) -> set[Row]:
    with (data / "expected_findings.csv").open(encoding="utf-8", newline="") as fh:
        return {(r["category"], r["order_id"], r["link_ids"], r["transaction_ids"])
                for r in csv.DictReader(fh) if r["category"] not in leave_out}


def listed_rows(out: Path) -> set[Row]:
    with (out / "findings.csv").open(encoding="utf-8", newline="") as fh:
        return {(r["category"], r["order_id"], r["link_ids"], r["transaction_ids"])
                for r in csv.DictReader(fh)}



def _assert_money_figures(out: Path, data: Path) -> None:
    """report.json's and summary.csv's money received per currency, and the money in
    transit by age, are those planted."""
    figures = json.loads((data / "expected_figures.json").read_text())
    report = json.loads((out / "report.json").read_text())
    want = {(c, name): (f[name]["count"], Decimal(f[name]["amount"]))
            for c, f in figures["currencies"].items() for name in MONEY_FIGURES if name in f}
    assert {name for _, name in want} == set(MONEY_FIGURES)  # each figure planted
    got = {(r["currency"], name): (r[name]["count"], Decimal(r[name]["amount"]))
           for r in report["summary"] for name in MONEY_FIGURES if r[name]["count"]}
    assert got == want
    with (out / "summary.csv").open(encoding="utf-8", newline="") as fh:
        cells = {(r["currency"], name): (int(r[f"{name}_count"]), Decimal(r[f"{name}_amount"]))
                 for r in csv.DictReader(fh) for name in MONEY_FIGURES
                 if int(r[f"{name}_count"])}
    assert cells == want
    assert [(a["currency"], a["bucket"], a["count"], Decimal(a["amount"]))
            for a in report["in_transit_aging"]] == [
        (a["currency"], a["bucket"], a["count"], Decimal(a["amount"]))
        for a in figures["in_transit_aging"]]
    assert report["in_transit_aging"]


def _assert_each_payment_shown(out: Path) -> None:
    """Every transaction of every finding is a row of the workbook's Transactions sheet
    and is on the HTML page, a link paid several times with each payment."""
    with (out / "findings.csv").open(encoding="utf-8", newline="") as fh:
        named = {(r["finding_id"], t) for r in csv.DictReader(fh)
                 for t in r["transaction_ids"].split(";") if t}
    several = {f for f, _ in named if sum(1 for g, _ in named if g == f) > 1}
    assert several  # links paid twice, or in parts
    sheet = openpyxl.load_workbook(out / "report.xlsx", read_only=True)["Transactions"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    found = {(r[header.index("finding id")], r[header.index("transaction")]) for r in rows[1:]}
    assert found == named
    page = (out / "report.html").read_text(encoding="utf-8")
    assert [t for _, t in named if t not in page] == []
    assert "Where the money stands" in page


@pytest.mark.parametrize("seed", SEEDS)
def test_every_three_way_category_equals_the_planted_truth_with_its_money_on_a_quiet_account(
        prepared: dict[int, Prepared], tmp_path: Path, seed: int) -> None:
    """A quiet sandbox: the truth is about the links and payments planted, none since."""
    p = prepared[seed]
    out = reconcile_and_report(p, tmp_path)
    planted = planted_rows(p.data)
    assert {row[0] for row in planted} == set(SEVERITY)  # every category, money's too
    # every finding, its link and transactions: the money ones beside their orders'
    assert listed_rows(out) == planted
    stakes = planted_stakes(p.data)
    assert findings_csv_stakes(out / "findings.csv") == stakes
    report = json.loads((out / "report.json").read_text())
    assert report_stakes(report) == stakes
    assert {c for c, _ in stakes} >= set(MONEY)
    _assert_money_figures(out, p.data)
    _assert_each_payment_shown(out)


def test_with_capture_off_no_webhook_finding_and_the_rest_unchanged(
        prepared: dict[int, Prepared], tmp_path: Path) -> None:
    """No webhook secret for the account: the events in the warehouse are not judged, and
    the links planted as missed or disagreeing have no finding at all."""
    p = prepared[SEEDS[0]]
    out = reconcile_and_report(p, tmp_path, capture=False)
    assert listed_rows(out) == planted_rows(p.data, leave_out=WEBHOOK)
    assert planted_rows(p.data) - planted_rows(p.data, leave_out=WEBHOOK)  # there were some

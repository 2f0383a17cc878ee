"""The report's figures equal what the generated data was built to have, exactly."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pik_recon.config import load_config
from pik_recon.orders import load_orders
from pik_recon.reconcile import reconcile
from pik_recon.report import write_report
from pik_recon.sandbox.generate import generate_dataset, write_dataset
from pik_recon.sandbox.seed import seed_from_file
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import Faults, SandboxState
from pik_recon.warehouse import Warehouse
from tests.conftest import API_KEY
from tests.sync_support import sync_one

FIGURES = ("invoiced", "collected", "outstanding", "expired_lost")


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_summary_and_aging_equal_the_planted_figures(tmp_path: Path, seed: int) -> None:
    data = generate_dataset(3_000, seed)
    write_dataset(data, "plain", tmp_path)
    planted = json.loads((tmp_path / "expected_figures.json").read_text())
    # a quiet sandbox: the figures are those of the links planted, none added or paid since
    state = SandboxState(api_key=API_KEY, faults=Faults(rate_limit_enabled=False))
    seed_from_file(state, tmp_path / "links.jsonl")
    db = tmp_path / "wh.duckdb"
    with SandboxServer(state) as server:
        config = load_config(db=str(db), base_url=server.base_url, env={"PIK_API_KEY": API_KEY})
        assert sync_one(config).verified
    with Warehouse.open(db) as wh:
        load_orders(wh, tmp_path / "orders.csv", config.orders)
        reconcile(wh, config.matching, data.as_of)
    since, until = (datetime.fromisoformat(planted[k]) for k in ("since", "until"))
    with Warehouse.open(db, read_only=True) as wh:
        write_report(wh, config.report, accounts=["default"], since=since, until=until,
                     out=tmp_path / "out", formats=("json",), now=until)
    report = json.loads((tmp_path / "out" / "report.json").read_text())

    assert tuple(planted["aging_buckets"]) == config.report.aging_buckets
    got = {row["currency"]: row for row in report["summary"]}
    assert set(planted["currencies"]) <= set(got)
    checked = 0
    for currency, row in got.items():
        expected = planted["currencies"].get(currency, {})
        for name in FIGURES:
            want = expected.get(name, {"count": 0, "amount": "0"})
            assert row[name]["count"] == want["count"], (currency, name)
            assert Decimal(row[name]["amount"]) == Decimal(want["amount"]), (currency, name)
            checked += want["count"]
    assert checked > 1_000
    assert [(a["currency"], a["bucket"], a["count"], Decimal(a["amount"]))
            for a in report["aging"]] == [
        (a["currency"], a["bucket"], a["count"], Decimal(a["amount"])) for a in planted["aging"]]

"""Generated data with every category planted: the findings equal the ground truth exactly."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest

from pik_recon.categories import CATEGORIES
from pik_recon.config import load_config
from pik_recon.orders import load_orders
from pik_recon.reconcile import reconcile
from pik_recon.sandbox.generate import SHAPES, generate_dataset, write_dataset
from pik_recon.sandbox.seed import seed_from_file
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import Faults, SandboxState
from pik_recon.sync import sync_accounts
from pik_recon.warehouse import Warehouse
from tests.conftest import API_KEY, record_sync
from tests.integration.test_stakes import unseen

ORDERS = 5_000  # every category planted dozens of times in each seed


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """One sync per seed (the links do not depend on the shape of the orders file)."""
    warehouses = {}
    for seed in (1, 2, 3):
        out = tmp_path_factory.mktemp(f"seed{seed}")
        write_dataset(generate_dataset(ORDERS, seed), "plain", out)
        state = SandboxState(api_key=API_KEY, faults=Faults(rate_limit_enabled=False))
        seed_from_file(state, out / "links.jsonl")
        with SandboxServer(state) as server:
            config = load_config(db=str(out / "wh.duckdb"), base_url=server.base_url,
                                 env={"PIK_API_KEY": API_KEY})
            assert sync_accounts([config])[0].verified
        warehouses[seed] = out / "wh.duckdb"
    return warehouses


def _expected(path: Path) -> set[tuple[str, str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {(r["category"], r["order_id"], r["link_ids"]) for r in csv.DictReader(fh)}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_findings_equal_the_planted_truth(synced: dict[int, Path], tmp_path: Path, seed: int,
                                          shape: str) -> None:
    data = generate_dataset(ORDERS, seed, card_orders=shape != "plain")
    write_dataset(data, shape, tmp_path)
    db = tmp_path / "wh.duckdb"
    shutil.copy(synced[seed], db)
    config = load_config(config_path=str(tmp_path / "pik-recon.toml"), env={})
    with Warehouse.open(db) as wh:
        loaded = load_orders(wh, tmp_path / "orders.csv", config.orders)
        result = reconcile(wh, config.matching, data.as_of)
        found = {(c, o or "", ids or "") for c, o, ids in wh.fetchall(
            "SELECT category, order_id, link_ids FROM findings WHERE run_id = ?",
            [result.run_id])}
    expected = _expected(tmp_path / "expected_findings.csv")
    if shape == "decimal-comma":  # read by the auto rule: '23.033' is 23033, never 23.033
        assert "decimal_separator" not in (tmp_path / "pik-recon.toml").read_text()
        cells = [row[1] for row in csv.reader((tmp_path / "orders.csv").open(
            encoding="utf-8-sig"), delimiter="\t")][1:]
        assert [c for c in cells if re.fullmatch(r"\d{1,3}\.\d{3}", c)]
        assert [c for c in cells if re.fullmatch(r"\d{1,3}\.\d{3},\d\d", c)]
        assert loaded.read_as == "a decimal comma and '.' between thousands"
    assert loaded.rejected == 0
    assert loaded.filtered == (0 if shape == "plain" else ORDERS // 30)
    planted = {category for category, _, _ in expected}
    # every category is there but order_rejected: a generated export has no unreadable row
    # (tests/integration/test_order_rejects.py plants them)
    categories = [category for category, _ in CATEGORIES if category != "order_rejected"]
    assert planted == set(categories)
    # the links' money, where this warehouse holds it: tests/integration/test_three_way.py
    shown = [c for c in categories if c not in unseen(db)]
    assert "amount_mismatch" in shown
    for category in shown:
        mine = {f for f in found if f[0] == category}
        truth = {f for f in expected if f[0] == category}
        assert mine == truth, category  # precision and recall both 1.0


def test_smallest_unit_differences_and_equal_decimals(tmp_path: Path) -> None:
    db = tmp_path / "wh.duckdb"
    links = [("pl_eth", "1.000000000000000001", "ETH", "Order #E1"),
             ("pl_btc", "0.12345679", "BTC", "Order #B1"),
             ("pl_usdt", "75", "USDT", "Order #U1")]
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,amount,currency,status,created_at\n"
                      "E1,1,ETH,paid,2026-11-01T00:00:00Z\n"
                      "B1,0.12345678,BTC,paid,2026-11-01T00:00:00Z\n"
                      "U1,75.00,USDT,paid,2026-11-01T00:00:00Z\n")
    config = load_config(env={})
    with Warehouse.open(db) as wh:
        record_sync(wh)
        for link_id, amount, currency, description in links:
            wh.execute("INSERT INTO payment_links VALUES (?, NULL, CAST(? AS DECIMAL(38, 18)), "
                       "?, ?, ?, 'paid', now(), now(), now(), now(), 1, NULL, 'default')",
                       [link_id, amount, amount, currency, description])
        load_orders(wh, orders, config.orders)
        run = reconcile(wh, config.matching).run_id
        rows = wh.fetchall("SELECT order_id, category, CAST(difference AS VARCHAR) "
                           "FROM findings WHERE run_id = ? ORDER BY order_id", [run])
    assert rows == [("B1", "amount_mismatch", "0.000000010000000000"),
                    ("E1", "amount_mismatch", "0.000000000000000001")]

"""The demo: a sandbox on a free loopback port, seeded from sample_data/, and the job on it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from pik_recon.config import load_config
from pik_recon.orders import LoadResult, load_orders
from pik_recon.reconcile import ReconcileResult, reconcile
from pik_recon.sandbox.seed import sample_links_path, seed_from_file
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState
from pik_recon.sync import SyncResult, sync_links
from pik_recon.warehouse import Warehouse, resource_dir


@dataclass(frozen=True)
class DemoResult:
    sync: SyncResult
    orders: LoadResult
    reconcile: ReconcileResult
    warehouse: Path


def run_demo(out: Path) -> DemoResult:
    out.mkdir(parents=True, exist_ok=True)
    warehouse = out / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    key = "sk_demo_" + secrets.token_hex(8)
    state = SandboxState(api_key=key, seed=1)
    seed_from_file(state, sample_links_path())
    with SandboxServer(state) as server:
        config = load_config(db=str(warehouse), base_url=server.base_url,
                             env={"PIK_API_KEY": key})
        synced = sync_links(config)
    with Warehouse.open(warehouse) as wh:
        loaded = load_orders(wh, resource_dir("sample_data") / "orders.csv", config.orders)
        matched = reconcile(wh, config.matching)
    return DemoResult(sync=synced, orders=loaded, reconcile=matched, warehouse=warehouse)

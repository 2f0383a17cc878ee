"""pik-recon as a library: every use case, the config they take, and the warehouse's tables
as pandas DataFrames for analysis.

    from pik_recon import api

    config = api.load_config()                  # as the command line builds it
    synced = api.sync(config)                    # SyncOutcome: runs, verdicts, exit_code
    done = api.reconcile(config, as_of=None)     # ReconcileOutcome: runs, attention
    print(done.headline(), done.exit_code)
    links = api.links_frame(config, account="brand-a")   # amounts exact: decimal128(38, 18)

The frames are read in a read-only session (waiting `[report] wait_seconds` for a writer);
every column is a pandas ArrowDtype, so an amount keeps its 18 decimals and never passes
through a float.
"""

from __future__ import annotations

import pandas as pd

from pik_recon.categories import CATEGORIES, SEVERITIES
from pik_recon.config import Config, load_config
from pik_recon.findings import last_run_ids
from pik_recon.usecases.common import account_names, open_for_reading
from pik_recon.usecases.export import ExportOutcome, export_parquet
from pik_recon.usecases.findings import (
    FindingsOutcome,
    ack_findings,
    list_findings,
    reopen_findings,
)
from pik_recon.usecases.links import CreateOutcome, create_links
from pik_recon.usecases.outcome import Failure, Outcome
from pik_recon.usecases.reconcile import OrdersOutcome, ReconcileOutcome, load_orders, reconcile
from pik_recon.usecases.report import ReportOutcome, report
from pik_recon.usecases.status import StatusOutcome, status
from pik_recon.usecases.sync import SyncOutcome, sync
from pik_recon.warehouse import query

__all__ = ["Config", "CreateOutcome", "ExportOutcome", "Failure", "FindingsOutcome",
           "OrdersOutcome", "Outcome", "ReconcileOutcome", "ReportOutcome", "StatusOutcome",
           "SyncOutcome", "ack_findings", "create_links", "export_parquet", "findings_frame",
           "links_frame", "list_findings", "load_config", "load_orders", "orders_frame",
           "reconcile", "reopen_findings", "report", "status", "sync", "transactions_frame"]


def _frame(config: Config, name: str, account: str | None) -> pd.DataFrame:
    accounts = list(account_names(config, [account] if account else []))
    with open_for_reading(config) as warehouse:
        table = warehouse.arrow(query(f"frame_{name}"), {"accounts": accounts})
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def links_frame(config: Config, account: str | None = None) -> pd.DataFrame:
    """Every payment link the warehouse holds (of `account`, else of every configured
    account), one row a link, as the sync last saw it."""
    return _frame(config, "links", account)


def orders_frame(config: Config, account: str | None = None) -> pd.DataFrame:
    """Every order loaded from the shop's exports (of `account`, else of every account)."""
    return _frame(config, "orders", account)


def transactions_frame(config: Config, account: str | None = None) -> pd.DataFrame:
    """Every PIK transaction the warehouse holds (of `account`, else of every account)."""
    return _frame(config, "transactions", account)


def findings_frame(config: Config, account: str | None = None) -> pd.DataFrame:
    """The findings of each account's last reconciliation (of `account`, else of every
    account) with their state, as `pik-recon findings list` shows them; open first."""
    accounts = list(account_names(config, [account] if account else []))
    with open_for_reading(config) as warehouse:
        runs = last_run_ids(warehouse, accounts)
        warehouse.execute(query("latest_acks"))
        table = warehouse.arrow(query("finding_states"), {
            "run_ids": runs, "severities": list(SEVERITIES),
            "categories": [c for c, _ in CATEGORIES]})
    return table.to_pandas(types_mapper=pd.ArrowDtype)

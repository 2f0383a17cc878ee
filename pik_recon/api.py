"""pik-recon as a library: every use case, and the config they take.

    from pik_recon import api

    config = api.load_config()                  # as the command line builds it
    synced = api.sync(config)                    # SyncOutcome: runs, verdicts, exit_code
    done = api.reconcile(config, as_of=None)     # ReconcileOutcome: runs, attention
    print(done.headline(), done.exit_code)
"""

from pik_recon.config import Config, load_config
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

__all__ = ["Config", "CreateOutcome", "ExportOutcome", "Failure", "FindingsOutcome",
           "OrdersOutcome", "Outcome", "ReconcileOutcome", "ReportOutcome", "StatusOutcome",
           "SyncOutcome", "ack_findings", "create_links", "export_parquet", "list_findings",
           "load_config", "load_orders", "reconcile", "reopen_findings", "report", "status", "sync"]

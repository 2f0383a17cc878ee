"""Export: the warehouse's tables as a Parquet dataset, only the partitions that changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pik_recon.config import Config
from pik_recon.export import ExportResult
from pik_recon.export import export_parquet as export_tables
from pik_recon.usecases.common import open_for_reading
from pik_recon.usecases.outcome import Outcome


@dataclass(frozen=True, kw_only=True)
class ExportOutcome(Outcome):
    result: ExportResult

    def counts(self) -> dict[str, dict[str, Any]]:
        done = {"dir": str(self.result.out), "partitions_written": self.result.written,
                "partitions_kept": self.result.kept, "rows": self.result.rows}
        return {account: done for account in self.accounts}


def export_parquet(config: Config, folder: Path, accounts: Sequence[str] = (), *,
                   tables: Sequence[str] = (), now: datetime | None = None) -> ExportOutcome:
    """`pik-recon export parquet DIR`: `tables` (all when none is named) of the accounts
    named (all when none is) into `folder`."""
    names = tuple(c.account for c in config.scoped(accounts))
    with open_for_reading(config) as warehouse:
        result = export_tables(warehouse, folder, accounts=list(names), tables=list(tables),
                               now=now or datetime.now(UTC))
    return ExportOutcome(accounts=names, result=result)

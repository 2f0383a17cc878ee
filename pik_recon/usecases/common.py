"""What every use case shares: how long it waits for the warehouse, and the accounts it runs for.

One waiting policy, whoever calls: a use case that writes waits up to WRITE_WAIT_SECONDS for
another writer (a sync, a job) to finish; one that only reads waits `[report]
wait_seconds`. Past that it is exit 4, "warehouse busy".
"""

from __future__ import annotations

from collections.abc import Sequence

from pik_recon.config import Config
from pik_recon.warehouse import DEFAULT_MEMORY_LIMIT, Warehouse

WRITE_WAIT_SECONDS = 60


def open_for_writing(config: Config, *, create: bool = True,
                     memory_limit: str = DEFAULT_MEMORY_LIMIT) -> Warehouse:
    """The warehouse to write (created and migrated when new, unless `create` is false).
    DuckDB spills past `memory_limit`."""
    return Warehouse.open(config.db_path, create=create, wait_seconds=WRITE_WAIT_SECONDS,
                          memory_limit=memory_limit)


def open_for_reading(config: Config, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> Warehouse:
    """The warehouse to read; it must exist. DuckDB spills past `memory_limit`."""
    return Warehouse.open(config.db_path, read_only=True,
                          wait_seconds=config.report.wait_seconds, memory_limit=memory_limit)


def account_names(config: Config, accounts: Sequence[str]) -> tuple[str, ...]:
    """The accounts named (every configured account when none is), checked."""
    return tuple(c.account for c in config.scoped(accounts))

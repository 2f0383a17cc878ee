"""The DuckDB warehouse: opening, ordered migrations from sql/, and named queries.

duckdb's exceptions stop here: callers see WarehouseError or WarehouseBusyError.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pik_recon.errors import PikReconError, UsageError, WarehouseBusyError, WarehouseError
from pik_recon.logs import get_logger

if TYPE_CHECKING:
    import pandas as pd

log = get_logger("warehouse")
DEFAULT_MEMORY_LIMIT = "1536MB"  # DuckDB spills to disk past this where it can
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def resource_dir(name: str) -> Path:
    """Find a shipped folder (sql/, sample_data/): inside the wheel, or at the repo's top."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / name, package_dir.parent / name):
        if candidate.is_dir():
            return candidate
    raise WarehouseError(f"pik-recon is installed without its {name}/ folder")


def listed(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
           ) -> tuple[str, dict[str, list[Any]]]:
    """A SELECT over rows passed as one list parameter per column: bulk rows into SQL.

    columns are (name, DuckDB type); each is bound as the named parameter $name.
    """
    sql = "SELECT " + ", ".join(f"unnest(${name}::{kind}[]) AS {name}" for name, kind in columns)
    lists: list[list[Any]] = [[] for _ in columns]
    for row in rows:
        for values, value in zip(lists, row, strict=True):
            values.append(value)
    return sql, {name: values for (name, _), values in zip(columns, lists, strict=True)}


@cache
def query(name: str) -> str:
    """The text of a named query in sql/queries/."""
    return (resource_dir("sql") / "queries" / f"{name}.sql").read_text(encoding="utf-8")


def migrations() -> list[tuple[int, str, str]]:
    found = []
    for path in sorted(resource_dir("sql").glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path.name, path.read_text(encoding="utf-8")))
    return found


def _is_lock_error(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set lock" in text)


# duckdb's errors when opening a file, as the user can act on them: (what the message says,
# the error, what to tell). Anything else is a warehouse failure (exit 5).
_OPEN_ERRORS: tuple[tuple[str, type[PikReconError], str], ...] = (
    ("not a valid duckdb database", UsageError,
     "warehouse {path} is a file of another kind, not a DuckDB warehouse; point --db (or "
     "PIK_RECON_DB) at a warehouse file, or at a new name to create one"),
    ("is a directory", UsageError,
     "warehouse {path} is a folder; --db (or PIK_RECON_DB) names a file, e.g. "
     "{path}/pik_recon.duckdb"),
    ("permission denied", UsageError,
     "warehouse {path} cannot be opened: permission denied; run as a user who may write it, "
     "or choose another --db"),
    ("read-only file system", UsageError,
     "warehouse {path} is on a read-only file system; choose another --db"),
    ("no space left", WarehouseError, "warehouse {path}: no space left on the device"),
)


def _translate(exc: duckdb.Error, path: Path) -> PikReconError:
    """duckdb's error as pik-recon's, at this one boundary."""
    if _is_lock_error(exc):
        return WarehouseBusyError(f"warehouse {path} is in use by another pik-recon process; "
                                  "try again when it has finished")
    text = str(exc).lower()
    for words, kind, message in _OPEN_ERRORS:
        if words in text:
            return kind(message.format(path=path))
    return WarehouseError(f"warehouse {path}: {exc}")


def _check_path(path: Path, read_only: bool) -> None:
    """Mistakes in --db that deserve a sentence, found before duckdb is asked."""
    if path.is_dir():
        raise UsageError(f"warehouse {path} is a folder; --db (or PIK_RECON_DB) names a file, "
                         f"e.g. {path / 'pik_recon.duckdb'}")
    if read_only and not path.exists():
        raise UsageError(f"warehouse {path} does not exist yet; run `pik-recon sync` first, "
                         "or point --db (or PIK_RECON_DB) at an existing warehouse")
    if not path.parent.is_dir():
        raise UsageError(f"warehouse {path}: the folder {path.parent} does not exist; create "
                         "it, or choose another --db (or PIK_RECON_DB)")


class Warehouse:
    """One open DuckDB file; the only place that talks to duckdb."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path

    @classmethod
    def open(cls, path: Path, *, read_only: bool = False, wait_seconds: float = 0.0,
             memory_limit: str = DEFAULT_MEMORY_LIMIT) -> Warehouse:
        """Open (and migrate) the warehouse; wait up to `wait_seconds` if another writer has it."""
        _check_path(path, read_only)
        deadline = time.monotonic() + wait_seconds
        announced = False
        while True:
            try:
                con = duckdb.connect(str(path), read_only=read_only)
                break
            except duckdb.Error as exc:
                error = _translate(exc, path)
                if not isinstance(error, WarehouseBusyError) or time.monotonic() >= deadline:
                    raise error from None
                if not announced:
                    log.info("warehouse %s is busy; waiting up to %.0f s", path, wait_seconds)
                    announced = True
                time.sleep(0.5)
        warehouse = cls(con, path)
        try:
            warehouse.execute("SET TimeZone = 'UTC'")
            warehouse.execute(f"SET memory_limit = '{memory_limit}'")
            if not read_only:
                warehouse.migrate()
        except BaseException:
            warehouse.close()
            raise
        return warehouse

    def close(self) -> None:
        self.con.close()

    def cursor(self) -> Warehouse:
        """Another connection to this open file, for another thread or task: its own
        transactions and temp tables. Close it before the warehouse."""
        try:
            return Warehouse(self.con.cursor(), self.path)
        except duckdb.Error as exc:
            raise _translate(exc, self.path) from None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def migrate(self) -> list[str]:
        """Apply the migrations not yet recorded, each in its own transaction."""
        self.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                     " name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
        applied = {row[0] for row in self.fetchall("SELECT version FROM schema_migrations")}
        done = []
        for version, name, text in migrations():
            if version in applied:
                continue
            with self.transaction():
                self.execute(text)
                self.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                             [version, name, datetime.now(UTC)])
            done.append(name)
            log.debug("applied migration %s", name)
        return done

    # --- thin, translated access ---------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("BEGIN TRANSACTION")
        try:
            yield
            self.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self.con.execute("ROLLBACK")
            raise

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        try:
            self.con.execute(sql, params)
        except duckdb.Error as exc:
            raise _translate(exc, self.path) from None

    def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
                 ) -> list[tuple[Any, ...]]:
        try:
            return self.con.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise _translate(exc, self.path) from None

    def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
                 ) -> tuple[Any, ...] | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def temp_table(self, name: str, columns: Sequence[tuple[str, str]],
                   rows: Sequence[Sequence[Any]]) -> None:
        """(Re)create the temp table `name` holding rows, typed by columns (name, DuckDB type)."""
        select, lists = listed(columns, rows)
        self.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}", lists)

    def staged(self, name: str, frame: pd.DataFrame) -> contextlib.AbstractContextManager[None]:
        """Make a DataFrame visible to SQL as `name` for the duration of a block."""

        @contextlib.contextmanager
        def _staged() -> Iterator[None]:
            try:
                self.con.register(name, frame)
            except duckdb.Error as exc:
                raise _translate(exc, self.path) from None
            try:
                yield
            finally:
                with contextlib.suppress(duckdb.Error):
                    self.con.unregister(name)

        return _staged()

    def batches(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None,
                size: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
        """Rows of a query a batch at a time, so memory stays flat on big results."""
        try:
            cursor = self.con.execute(sql, params)
            while rows := cursor.fetchmany(size):
                yield rows
        except duckdb.Error as exc:
            raise _translate(exc, self.path) from None

    def next_id(self, sequence: str) -> int:
        row = self.fetchone(f"SELECT nextval('{sequence}')")
        assert row is not None
        return int(row[0])

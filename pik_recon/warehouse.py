"""The DuckDB warehouse: opening, ordered migrations from sql/, and named queries.

duckdb's exceptions stop here: callers see WarehouseError or WarehouseBusyError.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import stat
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pik_recon.errors import (
    AmountTooLargeError,
    PikReconError,
    UsageError,
    WarehouseBusyError,
    WarehouseError,
)
from pik_recon.logs import get_logger
from pik_recon.paths import errno_in, path_error

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa



def _lazy(name: str) -> Any:
    """The module `name`, loaded at its first use: a command that fails before it opens the
    warehouse (a missing file, --help) does not pay DuckDB's start-up."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"pik-recon needs {name}; reinstall it")
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if not TYPE_CHECKING:
    duckdb = _lazy("duckdb")
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


# duckdb's own errors when opening a file, as the user can act on them: (what the message
# says, the error, what to tell). Errors of the file system (permission, a full disk) quote
# the system's message, and are read through the one table of them, paths.OS_ERRORS;
# anything else is a warehouse failure (exit 5).
_OPEN_ERRORS: tuple[tuple[str, type[PikReconError], str], ...] = (
    ("not a valid duckdb database", UsageError,
     "warehouse {path} is a file of another kind, not a DuckDB warehouse; point --db (or "
     "PIK_RECON_DB) at a warehouse file, or at a new name to create one"),
)
# what a file holds besides DuckDB's own catalog: (schema, name) of its tables and views
_USER_TABLES = ("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = "
                "current_database() AND NOT internal AND NOT temporary UNION ALL "
                "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = "
                "current_database() AND NOT internal AND NOT temporary ORDER BY 1, 2")
_OWN_ERROR = "pik-recon: "  # how an error() of the project's SQL begins
_QUOTED_FILE = re.compile(r'file \\?"([^"\\]+)\\?"', re.IGNORECASE)  # also JSON-escaped


def _translate(exc: duckdb.Error, path: Path, what: str = "warehouse", doing: str = "write"
               ) -> PikReconError:
    """duckdb's error as pik-recon's, at this one boundary (`what` and `path`: the file the
    user named, the warehouse or an export's folder)."""
    if _is_lock_error(exc):
        return WarehouseBusyError(f"warehouse {path} is in use by another pik-recon process; "
                                  "try again when it has finished")
    text = str(exc)
    if _OWN_ERROR in text:  # raised by the project's own SQL (money_macros.sql)
        return AmountTooLargeError(text.split(_OWN_ERROR, 1)[1])
    for words, kind, message in _OPEN_ERRORS:
        if words in text.lower():
            return kind(message.format(path=path))
    number = errno_in(text)
    if number is not None:
        quoted = _QUOTED_FILE.search(text)
        return path_error(OSError(number, os.strerror(number), quoted and quoted.group(1)),
                          path, what, doing)
    return WarehouseError(f"{what} {path}: {exc}")


def _check_path(path: Path, must_exist: bool) -> None:
    """Mistakes in --db that deserve a sentence, found before duckdb is asked."""
    if path.is_dir():
        raise UsageError(f"warehouse {path} is a folder; --db (or PIK_RECON_DB) names a file, "
                         f"e.g. {path / 'pik_recon.duckdb'}")
    if must_exist and not path.exists():
        raise UsageError(f"warehouse {path} does not exist yet; run `pik-recon sync` first, "
                         "or point --db (or PIK_RECON_DB) at an existing warehouse")
    if not path.parent.is_dir():
        raise UsageError(f"warehouse {path}: the folder {path.parent} does not exist; create "
                         "it, or choose another --db (or PIK_RECON_DB)")


def _tighten(path: Path, new: bool) -> None:
    """A warehouse (or WAL) readable by every user, as versions before 0600 files left it
    under umask 022, is made its owner's only, with a warning unless this open created it;
    a mode chosen without access for everyone (0640 for a group of analysts) is kept."""
    for file in (path, path.with_name(f"{path.name}.wal")):
        try:
            mode = file.stat().st_mode
            if mode & 0o007:
                os.chmod(file, stat.S_IMODE(mode) & 0o700)
                say = log.debug if new else log.warning
                say("%s was readable by every user of this machine (mode %o); it is now %o, "
                    "readable by its owner only", file, stat.S_IMODE(mode),
                    stat.S_IMODE(mode) & 0o700)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("%s is readable by every user of this machine and cannot be made its "
                        "owner's only (%s); its owner should run chmod 600 on it", file,
                        exc.strerror)


def _foreign(path: Path, tables: list[str], why: str) -> UsageError:
    shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
    return UsageError(f"warehouse {path} is a DuckDB file of another program: it holds tables "
                      f"({shown}) but {why}; pik-recon leaves it as it is. Point --db (or "
                      "PIK_RECON_DB) at a pik-recon warehouse, or at a new name to create one")


class Warehouse:
    """One open DuckDB file; the only place that talks to duckdb."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path

    @classmethod
    def open(cls, path: Path, *, read_only: bool = False, create: bool = True,
             wait_seconds: float = 0.0, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> Warehouse:
        """Open (and migrate) the warehouse; wait up to `wait_seconds` if another writer has it.
        A missing file is created unless `create` is false or `read_only`; a DuckDB file with
        tables but not pik-recon's schema is refused, never migrated."""
        _check_path(path, read_only or not create)
        new = not path.exists()
        deadline = time.monotonic() + wait_seconds
        announced = False
        while True:
            try:
                con = duckdb.connect(str(path), read_only=read_only)
                break
            except duckdb.Error as exc:
                error = _translate(exc, path, doing="open")
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
            warehouse.execute(query("money_macros"))
            warehouse.check_schema(read_only)
            _tighten(path, new)
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

    def check_schema(self, read_only: bool) -> None:
        """Refuse a file holding tables but not pik-recon's schema_migrations (an empty file is
        a new warehouse; read-only, one no sync has filled)."""
        tables = [f"{schema}.{name}" if schema != "main" else name
                  for schema, name in self.fetchall(_USER_TABLES)]
        if "schema_migrations" not in tables:
            if tables:
                raise _foreign(self.path, tables, "no schema_migrations table of pik-recon's")
            if read_only:
                raise UsageError(f"warehouse {self.path} holds no pik-recon data yet; run "
                                 "`pik-recon sync` first")
            return
        columns = {row[0] for row in self.fetchall(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
            " AND schema_name = 'main' AND table_name = 'schema_migrations'")}
        ours = {version: name for version, name, _ in migrations()}
        recorded = (self.fetchall("SELECT version, name FROM schema_migrations")
                    if columns == {"version", "name", "applied_at"} else None)
        if recorded is None or any(ours.get(v, n) != n for v, n in recorded) or (
                not recorded and len(tables) > 1):
            raise _foreign(self.path, tables, "its schema_migrations is not pik-recon's")

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

    def pool_blocks(self, size: str) -> None:
        """Let DuckDB keep up to `size` of the blocks it frees, until the warehouse closes: a
        statement working near the memory limit then reuses them instead of giving them back
        to the system and faulting them in again."""
        self.execute(f"SET block_allocator_memory = '{size}'")

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        try:
            self.con.execute(sql, params)
        except duckdb.Error as exc:
            raise _translate(exc, self.path) from None

    def copy(self, sql: str, params: Sequence[Any] | dict[str, Any], target: Path,
             what: str) -> None:
        """Run a COPY ... TO a file under `target`, a folder the user named (`what`): its
        file-system errors name that folder, not the warehouse."""
        try:
            self.con.execute(sql, params)
        except duckdb.Error as exc:
            raise _translate(exc, target, what) from None

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

    def arrow(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
              ) -> pa.Table:
        """A query's rows as an Arrow table, never through Python numbers: DECIMAL(38, 18)
        stays decimal128(38, 18)."""
        try:
            return self.con.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise _translate(exc, self.path, doing="read") from None

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

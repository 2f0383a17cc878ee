"""`pik-recon export parquet`: the warehouse's tables as a Hive-partitioned Parquet dataset.

    DIR/manifest.json
    DIR/payment_links/account=brand-a/created_date=2026-11-30/data_0.parquet
    DIR/findings/account=brand-a/run_id=12/data_0.parquet
    DIR/sync_runs/account=brand-a/data_0.parquet
    DIR/job_runs/data_0.parquet

Every table is partitioned by account (job_runs, whose runs may cover several, is not); the
tables that grow with time also by a date, and findings by their reconciliation run. DuckDB
writes the files (DECIMAL(38, 18) stays a Parquet decimal, JSON columns become text).

A partition is written again only when what it holds changed: the manifest keeps each
partition's row count and a digest of its rows (and of the table's columns), and only
partitions whose digest differs are written, into a staging folder inside DIR, then moved
into place file by file (a rename within one file system), so a reader sees the old file or
the new one, never a half-written one. Partitions whose rows are gone are removed. The
manifest is replaced after each table, so it describes the files in place; one export
writes a folder at a time (a lock file, .export.lock, beside the manifest).

A table with no rows is one file with its columns and no rows, TABLE/data_0.parquet, so a
reader of the dataset finds the table and its schema; it goes once the table has partitions.
The manifest names its format: a folder holding any other manifest.json is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pik_recon.errors import UsageError
from pik_recon.locks import held
from pik_recon.logs import get_logger
from pik_recon.paths import ensure_folder, writing
from pik_recon.warehouse import Warehouse

log = get_logger("export")
MANIFEST = "manifest.json"
LOCK = ".export.lock"
MANIFEST_VERSION = 1
FORMAT = "pik-recon parquet export"
LAYOUT = "hive: TABLE/account=NAME/PART=VALUE/data_0.parquet"
SCHEMA_FILE = "data_0.parquet"  # the one file of a table with no rows
WHAT = "the export folder"


@dataclass(frozen=True)
class Layout:
    """How one table is partitioned: by account (unless it spans accounts) and by a value
    that grows with time (`part`: its name in the path, and the SQL that computes it)."""

    by_account: bool = True
    part: tuple[str, str] | None = None

    def columns(self) -> list[str]:
        return (["account"] if self.by_account else []) + ([self.part[0]] if self.part else [])


TABLES: dict[str, Layout] = {
    "payment_links": Layout(part=("created_date", "CAST(created_at AS DATE)")),
    "link_status_history": Layout(part=("observed_date", "CAST(observed_at AS DATE)")),
    "transactions": Layout(part=("created_date", "CAST(created_at AS DATE)")),
    "transaction_status_history": Layout(part=("observed_date", "CAST(observed_at AS DATE)")),
    "quarantine": Layout(part=("observed_date", "CAST(observed_at AS DATE)")),
    "sync_runs": Layout(),
    "orders": Layout(part=("created_date", "CAST(created_at AS DATE)")),
    "order_imports": Layout(),
    "order_rejects": Layout(),
    "link_requests": Layout(part=("created_date", "CAST(created_at AS DATE)")),
    "reconcile_runs": Layout(),
    "findings": Layout(part=("run_id", "run_id")),
    "finding_acks": Layout(),
    "webhook_events": Layout(part=("received_date", "CAST(received_at AS DATE)")),
    "webhook_rejections": Layout(),
    "job_runs": Layout(by_account=False),
}


@dataclass(frozen=True)
class TableExport:
    table: str
    rows: int
    written: int
    kept: int
    removed: int


@dataclass(frozen=True)
class ExportResult:
    out: Path
    tables: list[TableExport]

    @property
    def written(self) -> int:
        return sum(t.written for t in self.tables)

    @property
    def kept(self) -> int:
        return sum(t.kept for t in self.tables)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


def check_tables(tables: list[str] | None) -> list[str]:
    """The tables asked for (all by default), in the export's order; an unknown one is a
    usage error naming those there are."""
    if not tables:
        return list(TABLES)
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise UsageError(f"--table {unknown[0]}: no such table; tables: {', '.join(TABLES)}")
    return [t for t in TABLES if t in tables]


def export_parquet(warehouse: Warehouse, out: Path, *, accounts: list[str],
                   tables: list[str] | None = None, now: datetime) -> ExportResult:
    """Export `tables` (all by default) of `accounts` into `out`, rewriting only the
    partitions that changed since the export recorded in out/manifest.json."""
    chosen = check_tables(tables)
    ensure_folder(out, WHAT)
    with writing(out, WHAT):
        _read_manifest(out)  # a folder that is not an export is refused before anything else
        with held(out / LOCK, "the export's lock file", lambda holder: (
                f"another pik-recon export is writing {out} ({holder}); run this one when "
                "it has finished"), WHAT):
            return _export(warehouse, out, chosen, accounts, now)


def _export(warehouse: Warehouse, out: Path, chosen: list[str], accounts: list[str],
            now: datetime) -> ExportResult:
    previous = _read_manifest(out).get("tables", {})
    entries: dict[str, Any] = dict(previous) if isinstance(previous, dict) else {}
    for stale in out.glob(".export-*"):  # left by an export that was killed
        shutil.rmtree(stale, ignore_errors=True)
    version = warehouse.fetchone("SELECT max(version) FROM schema_migrations")
    header = {"format": FORMAT, "manifest_version": MANIFEST_VERSION,
              "schema_version": int(version[0]) if version else 0,
              "exported_at": now.isoformat(timespec="seconds"), "layout": LAYOUT}
    stage = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    done = []
    try:
        # a manifest before any file moves, and after each table: an export killed at any
        # moment leaves a folder the next one recognises and completes
        if not (out / MANIFEST).is_file():
            _write_manifest(out, stage, {**header, "tables": {}})
        for table in chosen:
            entry, result = _export_table(warehouse, out, stage, table, accounts,
                                          entries.get(table, {}))
            entries[table] = {**entry, "exported_at": header["exported_at"]}
            done.append(result)
            _write_manifest(out, stage, {**header, "tables": {
                t: entries[t] for t in TABLES if t in entries}})
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return ExportResult(out, done)


def _export_table(warehouse: Warehouse, out: Path, stage: Path, table: str,
                  accounts: list[str], old: dict[str, Any]) -> tuple[dict[str, Any],
                                                                     TableExport]:
    layout = TABLES[table]
    columns = warehouse.fetchall("SELECT column_name, data_type FROM information_schema.columns"
                                 " WHERE table_name = ? AND table_schema = 'main' "
                                 "ORDER BY ordinal_position", [table])
    schema = _schema_digest(columns)
    select = ", ".join(f"CAST({name} AS VARCHAR) AS {name}" if kind == "JSON" else name
                       for name, kind in columns)
    if layout.part and layout.part[0] not in dict(columns):
        select += f", {layout.part[1]} AS {layout.part[0]}"
    source = f"(SELECT {select} FROM {table}" + (
        " WHERE list_contains($accounts, account))" if layout.by_account else ")")
    params = {"accounts": accounts} if layout.by_account else {}
    keys = layout.columns()
    current = _digests(warehouse, source, keys, params, schema)
    in_scope = {k: v for k, v in old.get("partitions", {}).items()
                if not layout.by_account or _account_of(k) in accounts}
    changed = [k for k, d in current.items()
               if in_scope.get(k, {}).get("digest") != d["digest"] or not _files(out / table / k)]
    removed = [k for k in in_scope if k not in current]
    if changed:
        _write_partitions(warehouse, out, stage / table, source, keys, changed, params)
        for key in changed:
            _move_into_place(stage / table / key, out / table / key)
    for key in removed:
        shutil.rmtree(out / table / key, ignore_errors=True)
        _prune(out / table / key, out / table)
    partitions = {k: v for k, v in old.get("partitions", {}).items() if k not in in_scope}
    partitions.update(current)
    entry = {"partitioned_by": keys,
             "columns": [{"name": n, "type": "VARCHAR" if k == "JSON" else k}
                         for n, k in columns],
             "rows": sum(p["rows"] for p in partitions.values()),
             "partitions": dict(sorted(partitions.items()))}
    if not partitions and (entry["columns"] != old.get("columns")
                           or not (out / table / SCHEMA_FILE).is_file()):
        _write_schema_file(warehouse, out, stage / table, source, params)
    elif partitions and keys:
        (out / table / SCHEMA_FILE).unlink(missing_ok=True)
    log.debug("export %s: %d partitions written, %d unchanged, %d removed", table, len(changed),
             len(current) - len(changed), len(removed))
    return entry, TableExport(table, entry["rows"], len(changed), len(current) - len(changed),
                              len(removed))


def _schema_digest(columns: list[tuple[Any, ...]]) -> str:
    """A short digest of a table's columns: a changed schema rewrites every partition."""
    text = ",".join(f"{name}:{kind}" for name, kind in columns)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _digests(warehouse: Warehouse, source: str, keys: list[str], params: dict[str, Any],
             schema: str) -> dict[str, dict[str, Any]]:
    """Each partition's path (account=…/…=…, "" when unpartitioned), row count and digest
    of its rows."""
    figures = "count(*), bit_xor(hash(t)), sum(hash(t)::HUGEINT)"
    rows = warehouse.fetchall(
        f"SELECT {', '.join(keys)}, {figures} FROM {source} AS t GROUP BY ALL" if keys
        else f"SELECT {figures} FROM {source} AS t HAVING count(*) > 0", params)
    found = {}
    for row in rows:
        count, xor, total = row[-3:]
        key = "/".join(f"{k}={_path_value(v)}" for k, v in zip(keys, row, strict=False))
        found[key] = {"rows": int(count), "digest": f"{count}-{xor}-{total}-{schema}"}
    return found


def _path_value(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _account_of(key: str) -> str:
    return key.split("/", 1)[0].removeprefix("account=")


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def _write_partitions(warehouse: Warehouse, out: Path, target: Path, source: str,
                      keys: list[str], changed: list[str], params: dict[str, Any]) -> None:
    """The changed partitions' files, written by DuckDB under `target` (in the stage)."""
    if not keys:
        target.mkdir(parents=True)
        warehouse.copy(f"COPY (SELECT * FROM {source}) TO '{target / 'data_0.parquet'}' "
                       "(FORMAT parquet, COMPRESSION zstd)", params, out, WHAT)
        return
    path_of = " || '/' || ".join(f"'{k}=' || CAST({k} AS VARCHAR)" for k in keys)
    warehouse.copy(
        f"COPY (SELECT * FROM {source} WHERE list_contains($changed, {path_of})) "
        f"TO '{target}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY ({', '.join(keys)}))",
        {**params, "changed": changed}, out, WHAT)


def _write_schema_file(warehouse: Warehouse, out: Path, staged: Path, source: str,
                       params: dict[str, Any]) -> None:
    """A table with no rows: one file holding its columns (the partition columns too, since
    no path names them), moved into place like a partition."""
    staged.mkdir(parents=True)
    warehouse.copy(f"COPY (SELECT * FROM {source} LIMIT 0) TO '{staged / SCHEMA_FILE}' "
                   "(FORMAT parquet, COMPRESSION zstd)", params, out, WHAT)
    _move_into_place(staged, out / staged.name)


def _move_into_place(staged: Path, final: Path) -> None:
    """Each new file replaces the file of its name (a rename: never half a file), then the
    partition's files the new set lacks go."""
    final.mkdir(parents=True, exist_ok=True)
    names = set()
    for path in _files(staged):
        os.replace(path, final / path.name)
        names.add(path.name)
    for path in _files(final):
        if path.name not in names:
            path.unlink()


def _prune(folder: Path, top: Path) -> None:
    """Remove the empty folders from `folder` up to (not including) `top`."""
    parent = folder.parent
    while parent != top and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


def _read_manifest(out: Path) -> dict[str, Any]:
    """The manifest of the export in `out` ({} for an empty folder); a folder holding files
    but no manifest, or another program's manifest.json, is refused."""
    path = out / MANIFEST
    if not path.exists():
        if any(p for p in out.iterdir() if not p.name.startswith(".")):
            raise UsageError(f"{out} holds files but no {MANIFEST}: it is not a pik-recon "
                             "export; choose an empty or new folder")
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (UnicodeDecodeError, ValueError):
        manifest = None
    if not _is_ours(manifest):
        raise UsageError(f"{path} is not the manifest of a pik-recon export (its \"format\" "
                         f"is not \"{FORMAT}\"): {out} holds something else; choose an "
                         "empty or new folder")
    assert isinstance(manifest, dict)
    return manifest


def _is_ours(manifest: Any) -> bool:
    """A manifest this export wrote: its format named, or (written before the format was)
    its version and layout."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
        return False
    if "format" in manifest:
        return manifest["format"] == FORMAT and manifest.get("manifest_version") == (
            MANIFEST_VERSION)
    return manifest.get("manifest_version") == 1 and manifest.get("layout") == LAYOUT


def _write_manifest(out: Path, stage: Path, manifest: dict[str, Any]) -> None:
    temp = stage / MANIFEST
    temp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(temp, out / MANIFEST)

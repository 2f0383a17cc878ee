"""Merging fetched pages into the warehouse: one transaction per batch.

A batch arrives as the raw bodies of the pages fetched, of one account or several syncing
side by side, of links, transactions or both. Per list, DuckDB reads them from a file next
to the warehouse (the resource's stage query), so a record costs no Python work unless its
validity is in doubt; those few go through the resource's parser. One merge joins each
list's share of the batch with its table once, whatever the accounts in it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pik_recon.errors import WarehouseError
from pik_recon.logs import get_logger
from pik_recon.paths import writing
from pik_recon.records import QUARANTINE_COLUMNS, Rejected
from pik_recon.sync.resource import Resource
from pik_recon.sync.store import MergeResult, SyncStore
from pik_recon.warehouse import Warehouse, listed

log = get_logger("syncstore")

# One fetched body: the status filter it was listed under (None: fetched by id) and the bytes.
Body = tuple[str | None, bytes]
# One body of a batch, with the run (and so the account and list) it was fetched for.
Part = tuple[SyncStore, Body]
_QUARANTINE_COLUMNS = (("account", "VARCHAR"), ("run_id", "BIGINT"),
                       *((c, "VARCHAR") for c in QUARANTINE_COLUMNS))


def _stage_columns(resource: Resource) -> tuple[tuple[str, str], ...]:
    """The columns of a record read in Python: its place in the batch (n, i), the account
    and sync run it belongs to, then its fields."""
    return (("n", "BIGINT"), ("i", "BIGINT"), ("account", "VARCHAR"), ("run_id", "BIGINT"),
            *((c, "VARCHAR") for c in resource.columns))


def stage_path(wh: Warehouse) -> Path:
    """The batch file: beside the warehouse, one at a time, removed once merged."""
    return wh.path.with_name(f".{wh.path.name}.sync-batch.jsonl")


def merge_batch(wh: Warehouse, batch: Sequence[Part]) -> dict[int, MergeResult]:
    """Merge a batch of fetched bodies and quarantine its malformed records, each list's
    share in one transaction: per sync run in the batch, what it brought that was news."""
    params = {"observed_at": datetime.now(UTC)}
    lists: dict[str, list[Part]] = {}
    for part in batch:
        lists.setdefault(part[0].resource.name, []).append(part)
    found: dict[int, MergeResult] = {}
    for parts in lists.values():
        found.update(_merge_list(wh, parts, params))
    return {store.run_id: found.get(store.run_id, MergeResult(0, 0, 0)) for store, _ in batch}


def _merge_list(wh: Warehouse, parts: Sequence[Part], params: dict[str, Any]
                ) -> dict[int, MergeResult]:
    """One list's share of a batch, staged, then merged in one transaction."""
    resource = parts[0][0].resource
    path = stage_path(wh)
    try:
        with writing(path, "the sync's batch file"):
            _write_batch(path, parts)
        rejected = _stage(wh, path, parts)
        with wh.transaction():
            wh.execute(resource.query("batch"))
            news = {int(run): (int(new), int(changed)) for run, new, changed in wh.fetchall(
                "SELECT run_id, count(*) FILTER (WHERE NOT known), count(*) FILTER (WHERE "
                "known AND old_status <> status AND NOT keeps_held) FROM record_batch "
                "GROUP BY run_id")}
            wh.execute(resource.query("history"), params)
            wh.execute(resource.query("insert"), params)
            wh.execute(resource.query("update"), params)
            quarantined = _quarantine(wh, resource, rejected, params)
    finally:
        path.unlink(missing_ok=True)
        wh.execute("DROP TABLE IF EXISTS record_stage; DROP TABLE IF EXISTS record_batch")
    return {run: MergeResult(*news.get(run, (0, 0)), quarantined.get(run, 0))
            for run in {store.run_id for store, _ in parts}}


def _write_batch(path: Path, batch: Sequence[Part]) -> None:
    """The batch file: one line per body, with its place, account, run and listed status."""
    path.write_bytes(b"".join(
        b'{"n":%d,"a":%s,"r":%d,"s":%s,"p":%s}\n' % (
            n, json.dumps(store.account).encode(), store.run_id, json.dumps(status).encode(),
            raw.replace(b"\n", b" ").replace(b"\r", b" "))
        for n, (store, (status, raw)) in enumerate(batch)))


def _stage(wh: Warehouse, path: Path, batch: Sequence[Part]
           ) -> list[tuple[SyncStore, Rejected]]:
    """Fill record_stage from the batch file; returns the records that cannot be rows."""
    resource = batch[0][0].resource
    columns = _stage_columns(resource)
    data: dict[int, list[Any]] = {}  # the records of a body, once it is decoded
    try:
        wh.execute(resource.query("stage"), {"path": str(path)})
        doubtful = wh.fetchall("SELECT n, i FROM record_stage WHERE NOT fast ORDER BY n, i")
    except WarehouseError as exc:  # a batch the bulk reader refuses: all in Python
        log.debug("reading the batch record by record: %s", exc)
        wh.execute("CREATE OR REPLACE TEMP TABLE record_stage ("
                   + ", ".join(f"{name} {kind}" for name, kind in columns)
                   + ", fast BOOLEAN)")
        data = {n: json.loads(raw)["data"] for n, (_, (_, raw)) in enumerate(batch)}
        doubtful = [(n, i) for n, records in data.items() for i in range(1, len(records) + 1)]
    if not doubtful:
        return []
    rows, rejected = [], []
    for n, i in doubtful:
        store, (status, raw) = batch[n]
        if n not in data:
            data[n] = json.loads(raw)["data"]
        parsed = resource.parse(data[n][i - 1], status)
        if isinstance(parsed, Rejected):
            rejected.append((store, parsed))
        else:
            rows.append((n, i, store.account, store.run_id, *parsed))
    wh.execute("DELETE FROM record_stage WHERE NOT fast")
    if rows:
        select, lists = listed(columns, rows)
        wh.execute(f"INSERT INTO record_stage BY NAME SELECT *, true AS fast FROM ({select})",
                   lists)
    return rejected


def _quarantine(wh: Warehouse, resource: Resource,
                rejected: list[tuple[SyncStore, Rejected]], params: dict[str, Any]
                ) -> dict[int, int]:
    """Quarantine the rejected records: per sync run, how many it had not quarantined yet."""
    if not rejected:
        return {}
    runs = sorted({store.run_id for store, _ in rejected})
    before = _quarantined(wh, runs)
    select, lists = listed(_QUARANTINE_COLUMNS, [
        (store.account, store.run_id, r.listed_status, r.record_id, r.reason, r.record)
        for store, r in rejected])
    wh.execute(f"WITH quarantine_batch AS ({select}) " + resource.shared("quarantine_status"),
               lists)
    wh.execute(f"WITH quarantine_batch AS ({select}) " + resource.shared("quarantine"),
               {**lists, **params, "resource": resource.name})
    after = _quarantined(wh, runs)
    return {run: after.get(run, 0) - before.get(run, 0) for run in runs}


def _quarantined(wh: Warehouse, runs: list[int]) -> dict[int, int]:
    return {int(run): int(n) for run, n in wh.fetchall(
        "SELECT sync_run_id, count(*) FROM quarantine WHERE list_contains(?, sync_run_id) "
        "GROUP BY sync_run_id", [runs])}

"""The sync's side of the warehouse: runs, batched merges, and what the proof counts.

A batch arrives as the raw bodies of the pages fetched, of one account or several syncing
side by side. DuckDB reads them from a file next to the warehouse
(sql/queries/stage_links.sql), so a record costs no Python work unless its validity is in
doubt; those few go through links.parse_link. One merge joins the whole batch with
payment_links once, whatever the accounts in it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pik_recon.errors import WarehouseError
from pik_recon.links import LINK_COLUMNS, QUARANTINE_COLUMNS, STATUSES, Rejected, parse_link
from pik_recon.logs import get_logger
from pik_recon.paths import writing
from pik_recon.warehouse import Warehouse, listed, query

log = get_logger("syncstore")
# The sync's warehouse memory: batches are bounded, so a tight cap keeps a sync near 300 MB.
MEMORY_LIMIT = "256MB"

# One fetched body: the status filter it was listed under (None: fetched by id) and the bytes.
Body = tuple[str | None, bytes]
# The columns of a record read in Python: its place in the batch (n, i), the sync run it
# belongs to, then its fields.
_STAGE_COLUMNS = (("n", "BIGINT"), ("i", "BIGINT"), ("account", "VARCHAR"), ("run_id", "BIGINT"),
                  *((c, "VARCHAR") for c in LINK_COLUMNS))
_QUARANTINE_COLUMNS = (("account", "VARCHAR"), ("run_id", "BIGINT"),
                       *((c, "VARCHAR") for c in QUARANTINE_COLUMNS))


@dataclass(frozen=True)
class MergeResult:
    new: int
    changed: int
    quarantined: int


@dataclass(frozen=True)
class RunRecord:
    """How a sync run ended, for its sync_runs row."""

    state: str
    strategy: str
    verified: bool
    verdict: str
    requests: int
    retries: int
    new: int
    changed: int
    quarantined: int
    totals: dict[str, int] | None
    counts: dict[str, int] | None
    budget: int | None
    spent: int
    total: int | None
    accounted: int | None
    vanished: int
    moved: int | None
    error: str | None = None


class SyncStore:
    """Writes of one sync run of one account; every call is one transaction (all or
    nothing)."""

    def __init__(self, warehouse: Warehouse, account: str) -> None:
        self.wh = warehouse
        self.account = account
        self.run_id = 0

    def begin_run(self, mode: str) -> int:
        with self.wh.transaction():
            self.wh.execute("UPDATE sync_runs SET state = 'interrupted', verdict = "
                            "'interrupted before it finished' WHERE state = 'running' "
                            "AND account = ?", [self.account])
            self.run_id = self.wh.next_id("sync_runs_seq")
            self.wh.execute("INSERT INTO sync_runs (id, account, mode, started_at, state) "
                            "VALUES (?, ?, ?, ?, 'running')",
                            [self.run_id, self.account, mode, datetime.now(UTC)])
        return self.run_id

    def finish_run(self, record: RunRecord) -> None:
        self.wh.execute(
            "UPDATE sync_runs SET finished_at = ?, state = ?, strategy = ?, verified = ?, "
            "verdict = ?, requests = ?, retries = ?, links_new = ?, links_changed = ?, "
            "quarantined = ?, pik_totals = ?, warehouse_counts = ?, error = ?, "
            "request_budget = ?, budget_spent = ?, pik_total = ?, accounted = ?, "
            "links_vanished = ?, links_moved = ? WHERE id = ?",
            [datetime.now(UTC), record.state, record.strategy, record.verified,
             record.verdict, record.requests, record.retries, record.new, record.changed,
             record.quarantined, _json(record.totals), _json(record.counts), record.error,
             record.budget, record.spent, record.total, record.accounted, record.vanished,
             record.moved, self.run_id])

    def counts(self) -> dict[str, int]:
        """Links per status (vanished ones left out), plus this run's quarantined records
        under the status whose list showed them."""
        counts = dict.fromkeys(STATUSES, 0)
        for status, n in self.wh.fetchall(
                "SELECT status, count(*) FROM payment_links WHERE account = ? "
                "AND vanished_at IS NULL GROUP BY status", [self.account]):
            counts[status] = counts.get(status, 0) + int(n)
        for status, n in self.wh.fetchall(
                "SELECT listed_status, count(DISTINCT record) FROM quarantine "
                "WHERE sync_run_id = ? AND listed_status IS NOT NULL GROUP BY listed_status",
                [self.run_id]):
            counts[status] = counts.get(status, 0) + int(n)
        return counts

    def accounted(self, include_final: bool) -> int:
        """Links this run accounts for (sql/queries/sync_accounted.sql)."""
        row = self.wh.fetchone(query("sync_accounted"),
                               {"run_id": self.run_id, "include_final": include_final,
                                "account": self.account})
        return int(row[0]) if row else 0

    def known(self) -> int:
        """Links the warehouse holds that PIK has not been seen to lose."""
        row = self.wh.fetchone("SELECT count(*) FROM payment_links WHERE account = ? AND "
                               "vanished_at IS NULL", [self.account])
        return int(row[0]) if row else 0

    def unobserved_active(self, but_newest: int = 0) -> list[str]:
        """Links held as active that this run has not observed (they may have changed),
        leaving out those among the `but_newest` newest links held."""
        rows = self.wh.fetchall(
            "SELECT id FROM payment_links WHERE account = $account AND status = 'active' "
            "AND vanished_at IS NULL AND last_seen_run IS DISTINCT FROM $run_id AND id NOT IN "
            "(SELECT id FROM payment_links WHERE account = $account ORDER BY created_at DESC "
            "LIMIT $newest) ORDER BY id",
            {"account": self.account, "run_id": self.run_id, "newest": but_newest})
        return [r[0] for r in rows]

    def unobserved_quarantined(self) -> list[str]:
        """Ids quarantined by earlier runs, not links in the warehouse, and not observed
        in this run: records PIK still counts, which only a fetch by id finds cheaply."""
        rows = self.wh.fetchall(
            "SELECT DISTINCT link_id FROM quarantine WHERE account = $account "
            "AND link_id IS NOT NULL "
            "AND link_id NOT IN (SELECT id FROM payment_links WHERE account = $account) "
            "AND link_id NOT IN (SELECT link_id FROM quarantine WHERE sync_run_id = $run_id "
            "AND link_id IS NOT NULL) ORDER BY link_id",
            {"account": self.account, "run_id": self.run_id})
        return [r[0] for r in rows]

    def unaccounted(self, include_final: bool) -> list[str]:
        """Links held (not vanished) that this run's proof does not account for: not
        observed in it, nor quarantined in it, nor (with `include_final`) held in a final
        status."""
        rows = self.wh.fetchall(
            "SELECT id FROM payment_links WHERE account = $account AND vanished_at IS NULL "
            "AND last_seen_run IS DISTINCT FROM $run_id "
            "AND NOT ($include_final AND status <> 'active') "
            "AND id NOT IN (SELECT link_id FROM quarantine WHERE sync_run_id = $run_id "
            "AND link_id IS NOT NULL) ORDER BY id",
            {"account": self.account, "run_id": self.run_id, "include_final": include_final})
        return [r[0] for r in rows]

    def mark_vanished(self, ids: list[str]) -> None:
        if ids:
            self.wh.execute("UPDATE payment_links SET vanished_at = ? WHERE account = ? "
                            "AND list_contains(?, id)", [datetime.now(UTC), self.account, ids])

    def recency(self, points: int) -> list[tuple[datetime, float, dict[str, int]]]:
        """For planning an incremental sync: creation times that cut the links held as
        active into about `points` groups, newest first; for each, the share of those links
        created at or after it, and per final status how many links held were."""
        rows = self.wh.fetchall(
            "WITH active AS (SELECT created_at, row_number() OVER (ORDER BY created_at DESC) "
            "AS n, count(*) OVER () AS total FROM payment_links WHERE account = $account AND "
            "status = 'active' AND vanished_at IS NULL), cuts AS (SELECT created_at, "
            "n / total AS share FROM active WHERE n % greatest(1, total // $points) = 0 "
            "OR n = total) "
            "SELECT c.created_at, c.share, p.status, count(p.id) FROM cuts AS c "
            "LEFT JOIN payment_links AS p ON p.account = $account "
            "AND p.created_at >= c.created_at AND p.status <> 'active' "
            "AND p.vanished_at IS NULL "
            "GROUP BY c.created_at, c.share, p.status ORDER BY c.share",
            {"account": self.account, "points": points})
        cuts: dict[datetime, tuple[float, dict[str, int]]] = {}
        for created_at, share, status, n in rows:
            entry = cuts.setdefault(created_at, (float(share), {}))
            if status is not None:
                entry[1][status] = int(n)
        return [(at, share, after) for at, (share, after) in cuts.items()]

    def change_ages(self, limit: int) -> list[float]:
        """How old (seconds since creation) links were when earlier syncs saw them leave
        `active`, for the latest `limit` such changes."""
        rows = self.wh.fetchall(
            "SELECT epoch(h.observed_at) - epoch(p.created_at) FROM link_status_history AS h "
            "JOIN payment_links AS p ON p.account = h.account AND p.id = h.link_id "
            "WHERE h.account = ? AND h.old_status = 'active' AND h.sync_run_id <> ? "
            "ORDER BY h.id DESC LIMIT ?", [self.account, self.run_id, limit])
        return [float(r[0]) for r in rows]

    def has_verified_full_sync(self) -> bool:
        row = self.wh.fetchone("SELECT count(*) FROM sync_runs WHERE account = ? AND "
                               "mode = 'full' AND state = 'finished' AND verified",
                               [self.account])
        return bool(row and row[0])


def _json(value: dict[str, int] | None) -> str | None:
    return json.dumps(value) if value is not None else None


# One body of a batch, with the run (and so the account) it was fetched for.
Part = tuple[SyncStore, Body]


def stage_path(wh: Warehouse) -> Path:
    """The batch file: beside the warehouse, one at a time, removed once merged."""
    return wh.path.with_name(f".{wh.path.name}.sync-batch.jsonl")


def merge_batch(wh: Warehouse, batch: Sequence[Part]) -> dict[str, MergeResult]:
    """Merge a batch of fetched bodies and quarantine its malformed records, in one
    transaction: per account in the batch, what it brought that was news."""
    params = {"observed_at": datetime.now(UTC)}
    path = stage_path(wh)
    try:
        with writing(path, "the sync's batch file"):
            _write_batch(path, batch)
        rejected = _stage(wh, path, batch)
        with wh.transaction():
            wh.execute(query("link_batch"))
            found = {account: (int(new), int(changed)) for account, new, changed in wh.fetchall(
                "SELECT account, count(*) FILTER (WHERE NOT known), count(*) FILTER (WHERE "
                "known AND old_status <> status AND NOT keeps_final) FROM link_batch "
                "GROUP BY account")}
            wh.execute(query("record_history"), params)
            wh.execute(query("insert_links"), params)
            wh.execute(query("update_links"), params)
            quarantined = _quarantine(wh, rejected, params)
    finally:
        path.unlink(missing_ok=True)
        wh.execute("DROP TABLE IF EXISTS link_stage; DROP TABLE IF EXISTS link_batch")
    return {store.account: MergeResult(*found.get(store.account, (0, 0)),
                                       quarantined.get(store.run_id, 0))
            for store, _ in batch}


def _write_batch(path: Path, batch: Sequence[Part]) -> None:
    """The batch file: one line per body, with its place, account, run and listed status."""
    path.write_bytes(b"".join(
        b'{"n":%d,"a":%s,"r":%d,"s":%s,"p":%s}\n' % (
            n, json.dumps(store.account).encode(), store.run_id, json.dumps(status).encode(),
            raw.replace(b"\n", b" ").replace(b"\r", b" "))
        for n, (store, (status, raw)) in enumerate(batch)))


def _stage(wh: Warehouse, path: Path, batch: Sequence[Part]) -> list[tuple[SyncStore, Rejected]]:
    """Fill link_stage from the batch file; returns the records that cannot be links."""
    data: dict[int, list[Any]] = {}  # the records of a body, once it is decoded
    try:
        wh.execute(query("stage_links"), {"path": str(path)})
        doubtful = wh.fetchall("SELECT n, i FROM link_stage WHERE NOT fast ORDER BY n, i")
    except WarehouseError as exc:  # a batch the bulk reader refuses: all in Python
        log.debug("reading the batch record by record: %s", exc)
        wh.execute("CREATE OR REPLACE TEMP TABLE link_stage ("
                   + ", ".join(f"{name} {kind}" for name, kind in _STAGE_COLUMNS)
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
        parsed = parse_link(data[n][i - 1], status)
        if isinstance(parsed, Rejected):
            rejected.append((store, parsed))
        else:
            rows.append((n, i, store.account, store.run_id, *parsed))
    wh.execute("DELETE FROM link_stage WHERE NOT fast")
    if rows:
        select, lists = listed(_STAGE_COLUMNS, rows)
        wh.execute(f"INSERT INTO link_stage BY NAME SELECT *, true AS fast FROM ({select})",
                   lists)
    return rejected


def _quarantine(wh: Warehouse, rejected: list[tuple[SyncStore, Rejected]],
                params: dict[str, Any]) -> dict[int, int]:
    """Quarantine the rejected records: per sync run, how many it had not quarantined yet."""
    if not rejected:
        return {}
    runs = sorted({store.run_id for store, _ in rejected})
    before = _quarantined(wh, runs)
    select, lists = listed(_QUARANTINE_COLUMNS, [
        (store.account, store.run_id, r.listed_status, r.link_id, r.reason, r.record)
        for store, r in rejected])
    wh.execute(f"WITH quarantine_batch AS ({select}) " + query("record_quarantine"),
               {**lists, **params})
    after = _quarantined(wh, runs)
    return {run: after.get(run, 0) - before.get(run, 0) for run in runs}


def _quarantined(wh: Warehouse, runs: list[int]) -> dict[int, int]:
    return {int(run): int(n) for run, n in wh.fetchall(
        "SELECT sync_run_id, count(*) FROM quarantine WHERE list_contains(?, sync_run_id) "
        "GROUP BY sync_run_id", [runs])}

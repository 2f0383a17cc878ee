"""The sync's side of the warehouse: runs, batched merges, counts, stale active links."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pik_recon.links import STATUSES, Rejected, dedupe_rows, links_frame, quarantine_frame
from pik_recon.warehouse import Warehouse, query


@dataclass(frozen=True)
class MergeResult:
    new: int
    changed: int
    quarantined: int


class SyncStore:
    """Writes of one sync run; every call is one transaction (all or nothing)."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.wh = warehouse
        self.run_id = 0

    def begin_run(self, mode: str) -> int:
        with self.wh.transaction():
            self.wh.execute("UPDATE sync_runs SET state = 'interrupted', verdict = "
                            "'interrupted before it finished' WHERE state = 'running'")
            self.run_id = self.wh.next_id("sync_runs_seq")
            self.wh.execute("INSERT INTO sync_runs (id, mode, started_at, state) VALUES "
                            "(?, ?, ?, 'running')", [self.run_id, mode, datetime.now(UTC)])
        return self.run_id

    def finish_run(self, *, state: str, strategy: str, verified: bool, verdict: str,
                   requests: int, retries: int, new: int, changed: int, quarantined: int,
                   totals: dict[str, int] | None, counts: dict[str, int] | None,
                   error: str | None = None) -> None:
        self.wh.execute(
            "UPDATE sync_runs SET finished_at = ?, state = ?, strategy = ?, verified = ?, "
            "verdict = ?, requests = ?, retries = ?, links_new = ?, links_changed = ?, "
            "quarantined = ?, pik_totals = ?, warehouse_counts = ?, error = ? WHERE id = ?",
            [datetime.now(UTC), state, strategy, verified, verdict, requests, retries, new,
             changed, quarantined, json.dumps(totals) if totals is not None else None,
             json.dumps(counts) if counts is not None else None, error, self.run_id])

    def merge(self, rows: list[tuple[Any, ...]], rejected: list[Rejected]) -> MergeResult:
        """Merge a batch of links and quarantine its malformed records, in one transaction."""
        now = datetime.now(UTC)
        params = {"observed_at": now, "run_id": self.run_id}
        new = changed = quarantined = 0
        with self.wh.transaction():
            if rows:
                with self.wh.staged("link_batch", links_frame(dedupe_rows(rows))):
                    found = self.wh.fetchone(query("link_changes"))
                    assert found is not None
                    new, changed = int(found[0]), int(found[1])
                    self.wh.execute(query("record_history"), params)
                    self.wh.execute(query("merge_links"), params)
            if rejected:
                before = self._quarantined()
                with self.wh.staged("quarantine_batch", quarantine_frame(rejected)):
                    self.wh.execute(query("record_quarantine"), params)
                quarantined = self._quarantined() - before
        return MergeResult(new, changed, quarantined)

    def _quarantined(self) -> int:
        row = self.wh.fetchone("SELECT count(*) FROM quarantine WHERE sync_run_id = ?",
                               [self.run_id])
        return int(row[0]) if row else 0

    def counts(self) -> dict[str, int]:
        """Links per status, plus this run's quarantined records under the status listed."""
        counts = dict.fromkeys(STATUSES, 0)
        for status, n in self.wh.fetchall(
                "SELECT status, count(*) FROM payment_links GROUP BY status"):
            counts[status] = counts.get(status, 0) + int(n)
        for status, n in self.wh.fetchall(
                "SELECT listed_status, count(DISTINCT record) FROM quarantine "
                "WHERE sync_run_id = ? AND listed_status IS NOT NULL GROUP BY listed_status",
                [self.run_id]):
            counts[status] = counts.get(status, 0) + int(n)
        return counts

    def active_ids_seen_before(self, moment: datetime | None) -> list[str]:
        """Links held as active not observed since `moment` (None: not seen in this run)."""
        if moment is None:
            rows = self.wh.fetchall("SELECT id FROM payment_links WHERE status = 'active' AND "
                                    "last_seen_run IS DISTINCT FROM ? ORDER BY id",
                                    [self.run_id])
        else:
            rows = self.wh.fetchall("SELECT id FROM payment_links WHERE status = 'active' AND "
                                    "last_seen_at < ? ORDER BY id", [moment])
        return [r[0] for r in rows]

    def known_with_status(self, ids: list[str], status: str) -> int:
        row = self.wh.fetchone("SELECT count(*) FROM payment_links WHERE status = ? AND "
                               "list_contains(?, id)", [status, ids])
        return int(row[0]) if row else 0

    def has_verified_full_sync(self) -> bool:
        row = self.wh.fetchone("SELECT count(*) FROM sync_runs WHERE mode = 'full' AND "
                               "state = 'finished' AND verified")
        return bool(row and row[0])

"""The sync's side of the warehouse: one run of one list, and what the proof counts.

Every call is one statement or one transaction (all or nothing), run on the writer's thread
(writer.py). The queries are the resource's (resource.py): its own where the columns
differ, shared where they do not. The merge of fetched pages is merge.py's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pik_recon.sync.counts import RequestCounts
from pik_recon.sync.resource import Resource
from pik_recon.warehouse import Warehouse

# A creation time cutting the records held open, the share of them created at or after it,
# and per final status how many records held were (SyncStore.recency).
Cut = tuple[datetime, float, dict[str, int]]
# The sync's warehouse memory: batches are bounded, so a tight cap keeps a sync near 300 MB
# (a million links: peak RSS 290-319 MB at 192 MB against 326-360 MB at 256 MB, in times
# within the machine's noise; at 128 MB DuckDB spills and the sync takes about 10 % longer).
MEMORY_LIMIT = "192MB"


@dataclass(frozen=True)
class MergeResult:
    """What merged pages brought that was news, for one run."""

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
    requests: RequestCounts
    new: int
    changed: int
    quarantined: int
    totals: dict[str, int] | None
    counts: dict[str, int] | None
    total: int | None
    accounted: int | None
    vanished: int
    moved: int | None
    error: str | None = None


class SyncStore:
    """One sync run of one list of one account, in the warehouse."""

    def __init__(self, warehouse: Warehouse, account: str, resource: Resource) -> None:
        self.wh = warehouse
        self.account = account
        self.resource = resource
        self.run_id = 0

    def _params(self, **more: Any) -> dict[str, Any]:
        return {"account": self.account, "run_id": self.run_id,
                "open": list(self.resource.open), **more}

    def _fetch(self, name: str, **more: Any) -> list[tuple[Any, ...]]:
        """The rows of a shared query, with the run's parameters and `more`."""
        sql = self.resource.shared(name)
        params = self._params(**more)
        return self.wh.fetchall(sql, {k: v for k, v in params.items()
                                      if re.search(rf"\${k}\b", sql)})

    def begin_run(self, mode: str) -> int:
        """A new run, `running`; a run of this list left running (killed) is `interrupted`."""
        with self.wh.transaction():
            self.wh.execute("UPDATE sync_runs SET state = 'interrupted', verdict = "
                            "'interrupted before it finished' WHERE state = 'running' "
                            "AND account = ? AND resource = ?",
                            [self.account, self.resource.name])
            self.run_id = self.wh.next_id("sync_runs_seq")
            self.wh.execute("INSERT INTO sync_runs (id, account, resource, mode, started_at, "
                            "state) VALUES (?, ?, ?, ?, ?, 'running')",
                            [self.run_id, self.account, self.resource.name, mode,
                             datetime.now(UTC)])
        return self.run_id

    def finish_run(self, record: RunRecord) -> None:
        self.wh.execute(self.resource.shared("finish_run"), {
            "run_id": self.run_id, "finished_at": datetime.now(UTC), "state": record.state,
            "strategy": record.strategy, "verified": record.verified, "verdict": record.verdict,
            "error": record.error, **record.requests.columns(), "new": record.new,
            "changed": record.changed, "quarantined": record.quarantined,
            "vanished": record.vanished, "moved": record.moved,
            "pik_totals": _json(record.totals), "warehouse_counts": _json(record.counts),
            "pik_total": record.total, "accounted": record.accounted})

    def has_verified_full_sync(self) -> bool:
        row = self.wh.fetchone("SELECT count(*) FROM sync_runs WHERE account = ? AND "
                               "resource = ? AND mode = 'full' AND state = 'finished' AND "
                               "verified", [self.account, self.resource.name])
        return bool(row and row[0])

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Records held per status (vanished ones left out), and this run's quarantined
        records per status whose list showed them."""
        held = dict.fromkeys(self.resource.statuses, 0)
        quarantined = dict.fromkeys(self.resource.statuses, 0)
        for status, n_held, n_quarantined in self._fetch("counts"):
            held[status] = held.get(status, 0) + int(n_held)
            quarantined[status] = quarantined.get(status, 0) + int(n_quarantined)
        return held, quarantined

    def quarantined_held(self) -> list[tuple[str, str]]:
        """(id, status held) of records this run saw only malformed that the warehouse
        holds from an earlier, readable observation."""
        return [(str(i), str(status)) for i, status in self._fetch("quarantined_held")]

    def accounted(self, include_final: bool) -> int:
        """Records this run accounts for (sql/queries/sync/accounted.sql)."""
        return int(self._fetch("accounted", include_final=include_final)[0][0])

    def known(self) -> int:
        """Records the warehouse holds that PIK has not been seen to lose."""
        return int(self._fetch("known")[0][0])

    def unobserved_open(self, but_newest: int = 0) -> list[str]:
        """Records held in a status that may change that this run has not observed, leaving
        out those among the `but_newest` newest records held."""
        return [r[0] for r in self._fetch("unobserved_open", newest=but_newest)]

    def unobserved_quarantined(self) -> list[str]:
        """Ids quarantined by earlier runs, not in the warehouse, and not observed in this
        run: records PIK still counts, which only a fetch by id finds cheaply."""
        return [r[0] for r in self._fetch("unobserved_quarantined")]

    def unaccounted(self, include_final: bool) -> list[str]:
        """Records held (not vanished) that this run's proof does not account for: not
        observed in it, nor quarantined in it, nor (with `include_final`) held final."""
        return [r[0] for r in self._fetch("unaccounted", include_final=include_final)]

    def mark_vanished(self, ids: list[str]) -> None:
        if ids:
            self.wh.execute(self.resource.shared("mark_vanished"),
                            {"at": datetime.now(UTC), "account": self.account, "ids": ids})

    def recency(self, points: int) -> list[Cut]:
        """For planning an incremental sync: creation times that cut the records held in
        a status that may change into about `points` groups, newest first; for each, the
        share of those records created at or after it, and per final status how many
        records held were."""
        cuts: dict[datetime, tuple[float, dict[str, int]]] = {}
        for created_at, share, status, n in self._fetch("recency", points=points):
            entry = cuts.setdefault(created_at, (float(share), {}))
            if status is not None:
                entry[1][status] = int(n)
        return [(at, share, after) for at, (share, after) in cuts.items()]

    def change_ages(self, limit: int) -> list[float]:
        """How old (seconds since creation) records were when earlier syncs saw them reach
        a final status, for the latest `limit` such changes."""
        return [float(r[0]) for r in self._fetch("change_ages", limit=limit)]

    def final_ages(self, limit: int) -> list[float]:
        """How old records held were when they reached a final status, by their own stamp
        of it (the resource's `final_at`; none for a resource without one), latest first."""
        if self.resource.final_at is None:
            return []
        return [float(r[0]) for r in self._fetch("final_ages", limit=limit)]


def _json(value: dict[str, int] | None) -> str | None:
    return json.dumps(value) if value is not None else None


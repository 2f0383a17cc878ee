"""What `pik-recon status` shows of webhook capture, per account whose capture is on: the
last event received, the events loaded, those waiting in the spool, refused deliveries."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

from pik_recon.warehouse import Warehouse
from pik_recon.webhooks.spool import segments


@dataclass
class WebhookStatus:
    """One account's capture, from the warehouse and the spool together."""

    account: str
    last_event_at: datetime | None = None
    loaded: int = 0  # events in webhook_events
    unsigned: int = 0  # of those, loaded from a dashboard export
    waiting: int = 0  # events in the spool that the warehouse does not hold yet
    rejected_today: Counter[str] = field(default_factory=Counter)  # per reason, UTC day
    rejected_week: Counter[str] = field(default_factory=Counter)  # the last 7 days


@dataclass
class _Spooled:
    events: dict[str, dict[str, datetime]] = field(default_factory=lambda: defaultdict(dict))
    counts: dict[tuple[str, str, str, str], int] = field(default_factory=dict)


def _scan(folder: Path) -> _Spooled:
    """Every event id and running count in the spool, read without taking it from anyone."""
    found = _Spooled()
    if not folder.is_dir():
        return found
    for segment in segments(folder):
        for record in segment.read()[0]:
            if record["kind"] == "rejections":
                key = (record["account"], record["day"], record["reason"],
                       record["receiver"])
                found.counts[key] = max(found.counts.get(key, 0), record["deliveries"])
                continue
            try:
                event_id = orjson.loads(record["body"])["id"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            found.events[record["account"]].setdefault(
                event_id, datetime.fromisoformat(record["received_at"]))
    return found


def _has_tables(warehouse: Warehouse) -> bool:
    """A warehouse no command of this version has written yet lacks migration 016."""
    return warehouse.fetchone("SELECT count(*) FROM information_schema.tables WHERE "
                              "table_name = 'webhook_events'") == (1,)


def read_webhook_status(warehouse: Warehouse, spool: Path, accounts: list[str],
                        now: datetime) -> list[WebhookStatus]:
    """The capture of each of `accounts` (those whose capture is on)."""
    spooled = _scan(spool)
    ready = _has_tables(warehouse)
    today, week = now.astimezone(UTC).date(), now.astimezone(UTC).date() - timedelta(days=6)
    found = []
    for account in accounts:
        state = WebhookStatus(account)
        counts = {k: v for k, v in spooled.counts.items() if k[0] == account}
        held: set[str] = set()
        if ready:
            state.loaded, state.unsigned, state.last_event_at = warehouse.fetchone(
                "SELECT count(*), count(*) FILTER (WHERE NOT signed), max(received_at) "
                "FROM webhook_events WHERE account = ?", [account]) or (0, 0, None)
            held = {row[0] for row in warehouse.fetchall(
                "SELECT event_id FROM webhook_events WHERE list_contains(?, event_id) AND "
                "account = ?", [list(spooled.events[account]), account])}
            for day, reason, receiver, deliveries in warehouse.fetchall(
                    "SELECT CAST(day AS VARCHAR), reason, receiver, deliveries FROM "
                    "webhook_rejections WHERE account = ? AND day >= ?", [account, week]):
                key = (account, day, reason, receiver)
                counts[key] = max(counts.get(key, 0), deliveries)
        waiting = {i: at for i, at in spooled.events[account].items() if i not in held}
        state.waiting = len(waiting)
        state.last_event_at = max([t for t in (state.last_event_at, *waiting.values()) if t],
                                  default=None)
        _rejected(state, counts, today, week)
        found.append(state)
    return found


def _rejected(state: WebhookStatus, counts: dict[tuple[str, str, str, str], int],
              today: date, week: date) -> None:
    for (_, day, reason, _), deliveries in counts.items():
        if day >= week.isoformat():
            state.rejected_week[reason] += deliveries
        if day == today.isoformat():
            state.rejected_today[reason] += deliveries

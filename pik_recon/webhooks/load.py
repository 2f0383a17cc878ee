"""`pik-recon webhooks load`: the spool (or a dashboard export) into webhook_events.

Each segment is one transaction: its events (once per account and event id) and its counts
of refused deliveries; a segment is removed only after its transaction commits, so one
loaded but not yet removed loads again as a no-op.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pik_recon.config import Config
from pik_recon.errors import InputError, PikReconError, UsageError
from pik_recon.logs import get_logger
from pik_recon.warehouse import Warehouse, query
from pik_recon.webhooks.spool import Segment, load_lock, remove_stale_new, segments

log = get_logger("webhooks.load")
# A decimal string as PIK writes amounts, within DECIMAL(38,18)
_PLAIN_AMOUNT = re.compile(r"\d{1,20}(\.\d{1,18})?")
_EVENT_COLUMNS = (
    ("account", "VARCHAR"), ("event_id", "VARCHAR"), ("event_type", "VARCHAR"),
    ("created_at", "TIMESTAMPTZ"), ("received_at", "TIMESTAMPTZ"),
    ("transaction_id", "VARCHAR"), ("payment_link_id", "VARCHAR"), ("amount_plain", "VARCHAR"),
    ("amount_text", "VARCHAR"), ("currency", "VARCHAR"), ("status", "VARCHAR"),
    ("confirmed_at", "TIMESTAMPTZ"), ("signed", "BOOLEAN"), ("signature", "VARCHAR"),
    ("source", "VARCHAR"), ("body", "VARCHAR"))
_REJECTION_COLUMNS = (("account", "VARCHAR"), ("day", "DATE"), ("reason", "VARCHAR"),
                      ("receiver", "VARCHAR"), ("deliveries", "BIGINT"),
                      ("last_at", "TIMESTAMPTZ"))


@dataclass
class LoadedEvents:
    """What a load did."""

    segments: int = 0  # spool segments read
    removed: int = 0  # of those, loaded whole and removed
    left: int = 0  # of those, still written by a receiver: read up to their last line, kept
    deliveries: int = 0  # event records read
    new: Counter[str] = field(default_factory=Counter)  # events stored, per account
    torn: int = 0  # lines that were not whole records (never answered 200), skipped

    @property
    def stored(self) -> int:
        return sum(self.new.values())

    @property
    def duplicates(self) -> int:
        """Deliveries of events already held (or delivered more than once)."""
        return self.deliveries - self.stored

    def summary(self) -> str:
        text = (f"{self.stored:,} new webhook events stored ({self.duplicates:,} deliveries "
                f"of events already held), from {self.segments} spool segments")
        if self.left:
            text += f" ({self.left} still being written, read up to their last record)"
        return text + (f"; {self.torn} torn records skipped" if self.torn else "")


class _Number(str):
    """A JSON number as written, told apart from a string (amounts must be strings)."""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or isinstance(value, _Number):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and not isinstance(value, _Number) else None


def event_row(account: str, body: str, received_at: datetime, signature: str | None,
              source: str) -> tuple[Any, ...] | None:
    """A webhook_events row from a raw body, or None when the body is not an event. An
    amount that is not a decimal string is kept as written with amount NULL: PIK sends
    strings, and a JSON number may have passed through a float."""
    try:
        doc = json.loads(body, parse_float=_Number, parse_int=_Number)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not _text(doc.get("id")) or not _text(doc.get("event")):
        return None
    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    amount = data.get("amount")
    amount_text = amount if isinstance(amount, str) else None
    plain = _text(amount) if _text(amount) and _PLAIN_AMOUNT.fullmatch(amount) else None
    return (account, doc["id"], doc["event"], _time(doc.get("created_at")), received_at,
            _text(data.get("transaction_id")), _text(data.get("payment_link_id")), plain,
            amount_text, _text(data.get("currency")), _text(data.get("status")),
            _time(data.get("confirmed_at")), signature is not None, signature, source, body)


def _merge(warehouse: Warehouse, events: Sequence[tuple[Any, ...]],
           rejections: Sequence[tuple[Any, ...]]) -> Counter[str]:
    """Events and counts into the warehouse, in the caller's transaction; new per account."""
    new: Counter[str] = Counter()
    if events:
        warehouse.temp_table("webhook_staged", _EVENT_COLUMNS, events)
        new.update({account: int(count) for account, count in
                    warehouse.fetchall(query("webhook_events_new"))})
        warehouse.execute(query("webhook_events_merge"), {"loaded_at": datetime.now(UTC)})
    if rejections:
        warehouse.temp_table("webhook_rejections_staged", _REJECTION_COLUMNS, rejections)
        warehouse.execute(query("webhook_rejections_merge"))
    return new


def _spool_rows(segment: Segment, records: list[dict[str, Any]]
                ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    events, rejections, unreadable = [], [], 0
    for record in records:
        try:
            if record["kind"] == "rejections":
                rejections.append((record["account"], date.fromisoformat(record["day"]),
                                   record["reason"], record["receiver"], record["deliveries"],
                                   datetime.fromisoformat(record["last_at"])))
                continue
            row = event_row(record["account"], record["body"],
                            datetime.fromisoformat(record["received_at"]), record["signature"],
                            "receiver")
        except (KeyError, TypeError, ValueError):
            row = None
        if row is None:
            unreadable += 1
            log.warning("webhook spool %s: a record that is not an event; skipped",
                        segment.path.name)
        else:
            events.append(row)
    return events, rejections, unreadable


def load_spool(warehouse: Warehouse, config: Config) -> LoadedEvents:
    """Move the spool into the warehouse, one transaction per segment (every account's
    events: a segment is loaded whole). LockHeldError while another loader has it."""
    folder, loaded = config.spool_dir, LoadedEvents()
    if not folder.is_dir():
        return loaded
    try:
        with load_lock(folder):
            for segment in segments(folder):
                records, torn = segment.read()
                events, rejections, unreadable = _spool_rows(segment, records)
                with warehouse.transaction():
                    loaded.new.update(_merge(warehouse, events, rejections))
                loaded.segments += 1
                loaded.deliveries += len(events)
                loaded.torn += torn + unreadable
                if segment.live:
                    loaded.left += 1
                else:
                    segment.remove()
                    loaded.removed += 1
            remove_stale_new(folder)
    except OSError as exc:
        raise UsageError(f"webhook spool {folder}: {exc.strerror}; the receiver's spool must "
                         "be readable and writable by this user") from None
    return loaded


def load_file(warehouse: Warehouse, path: Path, account: str) -> LoadedEvents:
    """Load an events export (JSON Lines, one event body a line) for `account`, whole or
    not at all. Nothing signs an export: its events are stored unsigned, and a signed
    delivery of the same event later takes its place."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise UsageError(f"{path} cannot be read: {reason}") from None
    now, rows, problems = datetime.now(UTC), [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        row = event_row(account, line, now, None, f"file:{path.name}")
        if row is None:
            problems.append(f"{path} line {number}: not an event (expected one JSON object a "
                            "line with a string id and event, as PIK sends them)")
        else:
            rows.append(row)
    if problems:
        shown = [*problems[:20], *([f"... and {len(problems) - 20} more"]
                                   if len(problems) > 20 else [])]
        raise InputError(f"{path}: {len(problems)} lines are not events; nothing was loaded",
                         shown)
    loaded = LoadedEvents(deliveries=len(rows))
    with warehouse.transaction():
        loaded.new.update(_merge(warehouse, rows, []))
    return loaded


def load_before_sync(config: Config, accounts: Sequence[str]) -> LoadedEvents | None:
    """What `sync` and the nightly job's sync step do first: load the spool when capture is
    on for an account they sync. A spool another loader holds, or any trouble loading it,
    is logged and left for the next sync; it never fails the sync."""
    if not any(a.name in accounts for a in config.capturing):
        return None
    try:
        with Warehouse.open(config.db_path) as warehouse:
            loaded = load_spool(warehouse, config)
    except PikReconError as exc:
        log.warning("webhook events not loaded before the sync: %s", exc)
        return None
    log.info("webhooks: %s", loaded.summary())
    return loaded

"""Turn PIK link records into warehouse rows, or quarantine them with a reason."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pik_recon.money import parse_link_amount

STATUSES = ("active", "paid", "expired", "deactivated")
LINK_COLUMNS = ("id", "url", "amount_text", "currency", "description", "status", "created_at",
                "paid_at")
QUARANTINE_COLUMNS = ("listed_status", "link_id", "reason", "record")


@dataclass(frozen=True, slots=True)
class Rejected:
    listed_status: str | None
    link_id: str | None
    reason: str
    record: str


def _timestamp(value: Any, name: str, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} {value!r} has no time zone")
    return moment.isoformat()


def _optional_text(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def parse_link(record: Any, listed_status: str | None) -> tuple[Any, ...] | Rejected:
    """One API record → a row in LINK_COLUMNS order, or the reason it cannot be one."""
    link_id = record.get("id") if isinstance(record, dict) else None
    try:
        if not isinstance(record, dict):
            raise ValueError("record is not a JSON object")
        if not isinstance(link_id, str) or not link_id:
            raise ValueError("missing id")
        amount_text = record.get("amount")
        parse_link_amount(amount_text)
        currency = record.get("currency")
        if not isinstance(currency, str) or not currency:
            raise ValueError("missing currency")
        status = record.get("status")
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        created_at = _timestamp(record.get("created_at"), "created_at", True)
        paid_at = _timestamp(record.get("paid_at"), "paid_at", False)
        row = (link_id, _optional_text(record, "url"), amount_text, currency,
               _optional_text(record, "description"), status, created_at, paid_at)
    except ValueError as exc:
        text = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
        return Rejected(listed_status, link_id if isinstance(link_id, str) else None,
                        str(exc), text)
    return row


def created_at(record: Any) -> datetime | None:
    """A record's creation time, or None when it has no readable one."""
    stamp = record.get("created_at") if isinstance(record, dict) else None
    try:
        return datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        return None

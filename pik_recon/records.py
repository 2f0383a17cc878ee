"""What every record PIK lists must be, whatever it is of: the checks links and transactions
share, and the quarantine's view of a record that fails them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pik_recon.money import parse_plain_amount

# What a quarantined record is stored with, beside its account and sync run.
QUARANTINE_COLUMNS = ("listed_status", "record_id", "reason", "record")


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record kept whole in quarantine, with why it cannot be a row."""

    listed_status: str | None
    record_id: str | None
    reason: str
    record: str


def timestamp(value: Any, name: str, required: bool) -> str | None:
    """An ISO 8601 time with a zone, normalised; None when absent and not `required`."""
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


def optional_text(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def required_text(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"missing {name}")
    return value


def amount_text(record: dict[str, Any]) -> str:
    """The amount exactly as PIK sent it: a plain positive decimal string."""
    text = record.get("amount")
    parse_plain_amount(text)
    assert isinstance(text, str)
    return text


def known_status(record: dict[str, Any], statuses: tuple[str, ...]) -> str:
    status = record.get("status")
    if status not in statuses:
        raise ValueError(f"unknown status {status!r}")
    return str(status)


def judged(record: Any, listed_status: str | None,
           read: Callable[[dict[str, Any]], tuple[Any, ...]]) -> tuple[Any, ...] | Rejected:
    """`read(record)` as a row, or the record rejected whole with the reason it gave."""
    record_id = record.get("id") if isinstance(record, dict) else None
    try:
        if not isinstance(record, dict):
            raise ValueError("record is not a JSON object")
        return read(record)
    except ValueError as exc:
        text = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
        return Rejected(listed_status, record_id if isinstance(record_id, str) else None,
                        str(exc), text)

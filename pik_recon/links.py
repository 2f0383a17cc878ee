"""Turn PIK link records into warehouse rows, or quarantine them with a reason."""

from __future__ import annotations

from typing import Any

from pik_recon.records import (
    Rejected,
    amount_text,
    judged,
    known_status,
    optional_text,
    required_text,
    timestamp,
)

STATUSES = ("active", "paid", "expired", "deactivated")
OPEN = ("active",)  # the one status a link leaves; the others are final
LINK_COLUMNS = ("id", "url", "amount_text", "currency", "description", "status", "created_at",
                "paid_at")


def _row(record: dict[str, Any]) -> tuple[Any, ...]:
    link_id = required_text(record, "id")
    amount = amount_text(record)
    currency = required_text(record, "currency")
    status = known_status(record, STATUSES)
    return (link_id, optional_text(record, "url"), amount, currency,
            optional_text(record, "description"), status,
            timestamp(record.get("created_at"), "created_at", True),
            timestamp(record.get("paid_at"), "paid_at", False))


def parse_link(record: Any, listed_status: str | None) -> tuple[Any, ...] | Rejected:
    """One API record → a row in LINK_COLUMNS order, or the reason it cannot be one."""
    return judged(record, listed_status, _row)

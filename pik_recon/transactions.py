"""Turn PIK transaction records into warehouse rows, or quarantine them with a reason.

A transaction is a customer's payment attempt on a link (SPEC §1): `pending`, then
`confirmed` on the chain, then `settled` to the merchant's balance, or `failed`; `settled`
and `failed` are final.
"""

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

STATUSES = ("pending", "confirmed", "settled", "failed")
OPEN = ("pending", "confirmed")  # may still move on; settled and failed are final
ID_PREFIX = "txn_"
TRANSACTION_COLUMNS = ("id", "payment_link_id", "amount_text", "currency", "status", "tx_hash",
                       "created_at", "confirmed_at", "settled_at")


def _row(record: dict[str, Any]) -> tuple[Any, ...]:
    txn_id = required_text(record, "id")
    if not txn_id.startswith(ID_PREFIX) or txn_id == ID_PREFIX:
        raise ValueError(f"id {txn_id!r} is not a transaction's (txn_...)")
    link_id = optional_text(record, "payment_link_id")
    amount = amount_text(record)
    currency = required_text(record, "currency")
    status = known_status(record, STATUSES)
    return (txn_id, link_id, amount, currency, status, optional_text(record, "tx_hash"),
            timestamp(record.get("created_at"), "created_at", True),
            timestamp(record.get("confirmed_at"), "confirmed_at", False),
            timestamp(record.get("settled_at"), "settled_at", False))


def parse_transaction(record: Any, listed_status: str | None) -> tuple[Any, ...] | Rejected:
    """One API record → a row in TRANSACTION_COLUMNS order, or the reason it cannot be one."""
    return judged(record, listed_status, _row)

"""The transactions' and webhooks' switches (names, checks, application) and their counts."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from pik_recon.sandbox.delivery import WebhookSettings
from pik_recon.sandbox.state import SandboxState
from pik_recon.sandbox.transactions import TransactionSettings, check_ordering

PAYMENT_SETTINGS = frozenset(f.name for group in (TransactionSettings, WebhookSettings)
                             for f in fields(group))
SHARES = frozenset({"tx_drift_new_ratio", "webhook_lost", "webhook_duplicate",
                    "webhook_out_of_order", "webhook_bad_signature"})
COUNTS = {"hidden_transactions": 0, "webhook_concurrency": 1}  # each with its least value
ABOVE_ZERO = frozenset({"webhook_clock_speed", "webhook_timeout_seconds"})


def checked(name: str, value: Any) -> Any:
    """The value a switch may take, or ValueError naming the switch."""
    if name == "tx_ordering":
        check_ordering(value)
        return value
    if name == "tx_drift_per_request" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"'{name}' must be a number")
    if name in COUNTS:
        if not isinstance(value, int) or value < COUNTS[name]:
            raise ValueError(f"'{name}' must be a whole number of at least {COUNTS[name]}")
    elif name in SHARES:
        if not 0 <= value <= 1:
            raise ValueError(f"'{name}' must be a share from 0 to 1")
    elif value < 0 or (name in ABOVE_ZERO and value == 0):
        raise ValueError(f"'{name}' must be {'above' if name in ABOVE_ZERO else 'at least'} 0")
    return value


def apply_payment_settings(state: SandboxState, payload: dict[str, Any]) -> None:
    """Check every switch first, then set them all (so nothing is set half-way)."""
    values = {name: checked(name, value) for name, value in payload.items()}
    with state.lock:
        for name, value in values.items():
            if name == "hidden_transactions":
                state.transactions.set_hidden(value)
            elif name == "webhook_clock_speed":
                state.webhooks.set_speed(float(value))
            elif hasattr(state.transactions.settings, name):
                setattr(state.transactions.settings, name, value)
            else:
                setattr(state.webhooks.settings, name, value)


def current(state: SandboxState) -> dict[str, Any]:
    return {**asdict(state.transactions.settings), **asdict(state.webhooks.settings)}


def payment_summary(state: SandboxState) -> dict[str, Any]:
    """What /_admin/state adds about transactions and webhooks."""
    book = state.transactions
    return {"transactions": book.counts(),
            "transaction_cases": {case: len(ids) for case, ids in book.cases.items()},
            "transaction_drift_changes": book.drift_changes,
            "webhooks": state.webhooks.summary()}

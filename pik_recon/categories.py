"""The findings' categories and severities, and what follows from them: one place.

Every engine and every report reads these: the order of the categories (SPEC §6, an order
gets the first that applies, a link the first of those about its money), each one's
severity, the ranking of severities, what `--fail-on` accepts and the exit code it asks
for, and a finding's state as finance reads it.
"""

from __future__ import annotations

from pik_recon.errors import EXIT_FINDINGS, EXIT_OK

# about a link's money received (SPEC §6, three-way): a link gets the first that applies,
# beside whatever finding its order has
MONEY_CATEGORIES = (
    ("underpaid", "critical"), ("overpaid", "critical"),
    ("paid_without_transaction", "critical"), ("payment_on_closed_link", "critical"),
    ("unsettled", "warning"), ("transaction_unknown_link", "critical"),
    ("webhook_missed", "warning"), ("webhook_disagrees", "critical"),
)
CATEGORIES = (
    ("currency_mismatch", "critical"), ("amount_mismatch", "critical"),
    ("duplicate_payment", "critical"), ("paid_but_cancelled", "critical"),
    ("paid_without_payment", "critical"), ("paid_order_not_updated", "warning"),
    ("expired_unpaid", "warning"), ("missing_link", "warning"), ("unpaid", "info"),
    ("orphan_paid_link", "critical"), ("orphan_link", "info"),
    ("order_rejected", "warning"),
    *MONEY_CATEGORIES,
)
SEVERITY = dict(CATEGORIES)
SEVERITIES = ("critical", "warning", "info")  # worst first
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
ATTENTION_SEVERITIES = ("critical", "warning")  # what needs someone; info does not
FAIL_ON = ("never", "warning", "critical")


def worst(severities: set[str]) -> str | None:
    """The worst of the severities present, None when there are none."""
    return min(severities, key=SEVERITY_RANK.__getitem__) if severities else None


def findings_exit_code(worst_open: str | None, fail_on: str) -> int:
    """1 when the worst open severity is `fail_on` or worse (never: always 0)."""
    if fail_on == "never" or worst_open is None:
        return EXIT_OK
    return EXIT_FINDINGS if SEVERITY_RANK[worst_open] <= SEVERITY_RANK[fail_on] else EXIT_OK


def finding_state(acknowledged: bool, outdated: bool | None) -> str:
    """A finding's state as finance reads it."""
    if acknowledged:
        return "acknowledged"
    return "open, changed since acknowledged" if outdated else "open"

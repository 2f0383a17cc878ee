"""The creation ledger `link_requests`: each row recorded before its POST, each outcome after.

States: pending (recorded, not sent) → sent (a POST may be on the wire) → created | failed;
sent rows whose answer never came stay `sent` until they are resolved on PIK. conflict rows
were never sent. A row marked `sent` carries its position: `list_position`, the `total` of an
answer of PIK's unfiltered list received before its POST went out, so its link, if created,
lies beyond it, and the boundary it names on that list: `list_anchor`, a stamp, and
`list_below`, how many links are stamped at or before it (newest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from pik_recon.creation.newest import START, Position
from pik_recon.warehouse import Warehouse, listed


@dataclass(frozen=True)
class LedgerRow:
    order_id: str
    amount: Decimal
    currency: str
    description: str
    state: str
    link_id: str | None
    url: str | None
    position: Position


class Ledger:
    """One account's ledger. All writes are single short transactions, so a kill leaves
    every row in a known state."""

    def __init__(self, warehouse: Warehouse, account: str) -> None:
        self.wh = warehouse
        self.account = account

    def rows(self, order_ids: list[str]) -> dict[str, LedgerRow]:
        found = self.wh.fetchall(
            "SELECT order_id, amount, currency, description, state, link_id, url, "
            "list_position, list_anchor, list_below FROM link_requests "
            "WHERE account = ? AND list_contains(?, order_id)",
            [self.account, order_ids])
        return {r[0]: LedgerRow(*r[:7], START if r[7] is None
                                else Position(r[7], r[8], r[9] or 0))
                for r in found}

    def descriptions_in_use(self, descriptions: list[str], order_ids: list[str]
                            ) -> dict[str, str]:
        """Descriptions already used by other orders in the ledger -> that order id."""
        return dict(self.wh.fetchall(
            "SELECT description, order_id FROM link_requests WHERE account = ? AND "
            "list_contains(?, description) AND NOT list_contains(?, order_id)",
            [self.account, descriptions, order_ids]))

    def record(self, rows: list[tuple[str, str, str, str]], source: str) -> None:
        """Record new rows as pending, all in one transaction, before anything is sent."""
        now = datetime.now(UTC)
        select, lists = listed([(c, "VARCHAR") for c in ("order_id", "amount_text", "currency",
                                                         "description")], rows)
        with self.wh.transaction():
            self.wh.execute(
                "INSERT INTO link_requests (account, order_id, amount, amount_text, currency, "
                "description, state, source_file, created_at, updated_at) "
                "SELECT $account, order_id, CAST(amount_text AS DECIMAL(38, 18)), amount_text, "
                f"currency, description, 'pending', $source, $now, $now FROM ({select})",
                {**lists, "source": source, "now": now, "account": self.account})

    def mark(self, order_id: str, state: str, *, error: str | None = None) -> None:
        self.wh.execute(
            "UPDATE link_requests SET state = ?, error = ?, updated_at = ? "
            "WHERE account = ? AND order_id = ?",
            [state, error, datetime.now(UTC), self.account, order_id])

    def mark_sent(self, order_ids: list[str], position: Position) -> None:
        """Rows whose POSTs go out after this commits, in one transaction, with the list
        position answered before any of them is sent."""
        self.wh.execute("UPDATE link_requests SET state = 'sent', error = NULL, "
                        "list_position = ?, list_anchor = ?, list_below = ?, "
                        "attempts = attempts + 1, updated_at = ? "
                        "WHERE account = ? AND list_contains(?, order_id)",
                        [position.total, position.anchor, position.below, datetime.now(UTC),
                         self.account, order_ids])

    def mark_created(self, rows: list[tuple[str, str, str | None, str | None]]) -> None:
        """Store PIK's answers (order_id, link_id, url, error) in one transaction."""
        select, lists = listed([(c, "VARCHAR") for c in ("order_id", "link_id", "url", "error")],
                               rows)
        self.wh.execute("UPDATE link_requests SET state = 'created', link_id = b.link_id, "
                        f"url = b.url, error = b.error, updated_at = $now FROM ({select}) AS b "
                        "WHERE link_requests.account = $account "
                        "AND link_requests.order_id = b.order_id",
                        {**lists, "now": datetime.now(UTC), "account": self.account})

"""The lists a sync reads, links and transactions: what the engine needs to know of each.

The engine (session, pager, coverage, sweep, proof, writer, store, incremental plan) works
on a resource. What differs between PIK's lists is here: the API path, the statuses and which
of them may still change, the tables, the record parser, and the queries whose columns differ
(sql/queries/links/, sql/queries/transactions/: staging, the batch, insert, update, history).
The queries both share are in sql/queries/sync/, written once with the resource's tables and
names as `{records}`, `{history}`, `{noun}` and `{name}`: identifiers from this description,
never input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pik_recon import links, transactions
from pik_recon.client import LINKS_PATH, TRANSACTIONS_PATH
from pik_recon.records import Rejected
from pik_recon.warehouse import query

Parse = Callable[[Any, str | None], tuple[Any, ...] | Rejected]


@dataclass(frozen=True)
class Resource:
    """One of PIK's lists. Records are never removed from its unfiltered list, and a record
    in a final status stays in it: the proof (proof.py) rests on both."""

    name: str  # "links", "transactions": sync_runs.resource, quarantine.resource
    noun: str  # "link": messages, and the id columns of history and quarantine ({noun}_id)
    path: str  # the list's API path; one record is path/{id}
    statuses: tuple[str, ...]
    open: tuple[str, ...]  # statuses a record may still leave: observed again by every sync
    records: str  # the table of records as last observed
    history: str  # the table of status changes observed
    columns: tuple[str, ...]  # a record's fields as `parse` returns them
    parse: Parse
    # the column stamping when a record reached a final status, whose ages stand in for the
    # changes no sync has observed yet when an incremental sync is planned (plan.py)
    final_at: str | None = None

    @property
    def final(self) -> tuple[str, ...]:
        return tuple(s for s in self.statuses if s not in self.open)

    @property
    def open_words(self) -> str:
        """The statuses that may change, in words: "active", "pending or confirmed"."""
        return " or ".join(self.open)

    def many(self, count: int) -> str:
        """`count` records in words: "1 link", "5,120 transactions"."""
        return f"1 {self.noun}" if count == 1 else f"{count:,} {self.name}"

    def query(self, name: str) -> str:
        """One of this resource's own queries (sql/queries/<resource>/<name>.sql)."""
        return query(f"{self.name}/{name}")

    def shared(self, name: str) -> str:
        """A query every resource shares (sql/queries/sync/<name>.sql), for this one."""
        return query(f"sync/{name}").format(records=self.records, history=self.history,
                                            noun=self.noun, name=self.name,
                                            final_at=self.final_at)


LINKS = Resource(name="links", noun="link", path=LINKS_PATH, statuses=links.STATUSES,
                 open=links.OPEN, records="payment_links", history="link_status_history",
                 columns=links.LINK_COLUMNS, parse=links.parse_link)
TRANSACTIONS = Resource(name="transactions", noun="transaction", path=TRANSACTIONS_PATH,
                        statuses=transactions.STATUSES, open=transactions.OPEN,
                        records="transactions", history="transaction_status_history",
                        columns=transactions.TRANSACTION_COLUMNS,
                        parse=transactions.parse_transaction, final_at="settled_at")
RESOURCES = {r.name: r for r in (LINKS, TRANSACTIONS)}  # by name, in the order synced

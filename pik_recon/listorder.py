"""Which end of one of PIK's lists is the newest: the one rule, from creation times alone.

PIK promises no order. A list ordered by creation shows it in its records' `created_at`s,
compared with each other only (never with our clock): newest first, new records join at
offset 0; oldest first, they join at the end. The sync's coverage and incremental reads and
bulk creation's search for a lost link all read the order here, and count pages from the
newest end the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any


class Order(Enum):
    NEWEST = "newest first"
    OLDEST = "oldest first"
    UNKNOWN = "unknown order"

    def __str__(self) -> str:
        return self.value


def created_at(record: Any) -> datetime | None:
    """A record's creation time, or None when it has no readable one."""
    return stamp(record.get("created_at") if isinstance(record, dict) else None)


def stamp(text: Any) -> datetime | None:
    """A creation time as PIK writes it, read, or None when it is not one."""
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def before(a: datetime | None, b: datetime | None) -> bool:
    """`a` strictly before `b`, both known and comparable: a stamp with a time zone and one
    without are neither before nor after each other."""
    try:
        return a is not None and b is not None and a < b
    except TypeError:
        return False


def same(a: datetime | None, b: datetime | None) -> bool:
    """`a` and `b` the same known instant (a stamp with a time zone never equals one
    without)."""
    return a is not None and b is not None and a == b


def order_of(records: Sequence[Any]) -> Order:
    """The order a page shows: every record stamped, at least two instants, none out of
    line. A page of one instant tells no order."""
    stamps = [created_at(record) for record in records]
    if len(stamps) < 2 or any(s is None for s in stamps) or len(set(stamps)) < 2:
        return Order.UNKNOWN
    for order in (Order.NEWEST, Order.OLDEST):
        if in_order(records, order):
            return order
    return Order.UNKNOWN


def in_order(records: Sequence[Any], order: Order) -> bool:
    """Every record stamped and none out of `order` (equal stamps are in any order)."""
    return (all(created_at(record) is not None for record in records)
            and stamped_in_order(records, order))


def stamped_in_order(records: Sequence[Any], order: Order) -> bool:
    """None of the records' readable stamps out of `order`, those without one skipped: what
    a page shows of its order when some of its stamps cannot be read."""
    stamps = [s for s in map(created_at, records) if s is not None]
    if order is Order.UNKNOWN:
        return False
    if order is Order.NEWEST:
        stamps.reverse()
    return all(same(a, b) or before(a, b) for a, b in itertools.pairwise(stamps))


def from_newest(order: Order, page: int, total: int, limit: int) -> int:
    """The offset of the `page`-th page (0: the first) counted from the newest end of a
    list of `total` records: forwards from 0 newest first, backwards from the end oldest
    first."""
    if order is Order.OLDEST:
        return max(0, total - (page + 1) * limit)
    return page * limit

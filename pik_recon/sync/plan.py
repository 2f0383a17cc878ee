"""Planning an incremental sync: what each way of reading would cost, in requests.

An incremental sync must observe every record the warehouse holds in a status that may
still change (a link held as active, a transaction held as pending or confirmed) and every
record it does not hold yet; records it holds in a final status never change. What the
first pages and the warehouse tell beforehand:

- `gained[s]`: how many records a final status holds beyond the warehouse's count of it:
  new records already final, and records held open that reached it;
- where those records sit in the status's list, estimated from when records tend to change:
  the ages at which the warehouse saw records reach a final status before, or, with no such
  history, the creation times of the records held open.

Reading a final status from its newest end costs a page per 100 records it passes; a record
not reached that way is fetched by id (or the status read whole, if that is estimated
cheaper). Each open status is read whole or its records fetched by id, whichever is fewer
requests. The incremental sync is taken when its estimate is clearly below a full sweep's
(INCREMENTAL_SHARE of it): the estimates are rough, a full sweep's cost is not. Once taken,
a final status is read from its newest end for as long as its pages bring news, whatever the
estimate; what that leaves is fetched by id, or swept, whichever costs less then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pik_recon.client import PAGE_LIMIT
from pik_recon.listorder import Order

INCREMENTAL_SHARE = 0.75


def pages(records: int) -> int:
    return math.ceil(max(0, records) / PAGE_LIMIT)


@dataclass(frozen=True)
class Shape:
    """What the first pages and the warehouse say before an incremental sync reads more."""

    total: int  # PIK's count of every record
    totals: dict[str, int]  # PIK per status
    known: int  # records the warehouse holds
    held: dict[str, int]  # the warehouse per status
    open: tuple[str, ...]  # the statuses that may still change
    shares: list[float]  # cut points: the share of changes expected at or after each ...
    after: dict[str, list[int]]  # ... and per final status, records held created after it
    orders: dict[str, Order]  # per final status, the order its first page shows

    @property
    def final(self) -> tuple[str, ...]:
        return tuple(s for s in self.totals if s not in self.open)


@dataclass(frozen=True)
class Plan:
    full: bool
    open: dict[str, str]  # per open status: "list" or "by id"
    final: dict[str, str]  # per final status: "top", "list" or "by id"
    incremental_cost: int
    full_cost: int

    def describe(self) -> str:
        if self.full:
            return (f"full sweep: about {self.full_cost:,} requests, an incremental sync "
                    f"about {self.incremental_cost:,}")
        reads = ", ".join(f"{s} {how}" for s, how in (*self.open.items(), *self.final.items()))
        return (f"incremental: about {self.incremental_cost:,} requests against a full "
                f"sweep's {self.full_cost:,} ({reads})")


def top_cost(gained: int, shares: list[float], after: list[int]) -> int:
    """Reading a final status from its newest end down to the cut that costs least: pages
    over the records it passes, plus a fetch by id for each gained record beyond the cut."""
    best = gained  # no page at all: every gained record by id
    for share, held_after in zip(shares, after, strict=True):
        best = min(best, pages(held_after + round(gained * share)) - 1
                   + round(gained * (1 - share)))
    return max(0, best)


def plan_incremental(shape: Shape) -> Plan:
    """The cheaper of an incremental sync and a full sweep, with how to read each status."""
    full_cost = pages(shape.total) + 1
    new = shape.total - shape.known
    gained = {s: shape.totals[s] - shape.held.get(s, 0) for s in shape.final}
    if new < 0 or any(g < 0 for g in gained.values()):  # PIK lost records: sweep everything
        return Plan(True, dict.fromkeys(shape.open, "list"), dict.fromkeys(shape.final, "list"),
                    full_cost, full_cost)
    open_reads, cost = {}, 2
    for status in shape.open:
        held, listed = shape.held.get(status, 0), pages(shape.totals[status]) - 1
        open_reads[status] = "list" if listed <= held else "by id"
        cost += min(listed, held)
    final = {}
    for status in shape.final:
        whole = pages(shape.totals[status]) - 1
        if shape.orders[status] is Order.UNKNOWN:  # no newest end to read from
            final[status], estimate = "list", whole
        else:  # read from the newest end while it pays, whatever the estimate says
            final[status] = "top"
            estimate = min(whole, top_cost(gained[status], shape.shares, shape.after[status]))
        cost += estimate
    return Plan(cost >= INCREMENTAL_SHARE * full_cost, open_reads, final, cost, full_cost)

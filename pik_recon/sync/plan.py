"""Planning an incremental sync: what each way of reading would cost, in requests.

An incremental sync must observe every link the warehouse holds as active (each may have
changed) and every link it does not hold yet; links it holds in a final status never change.
What the first pages and the warehouse tell beforehand:

- `gained[s]`: how many links a final status holds beyond the warehouse's count of it: new
  links already final, and links held as active that reached it;
- where those links sit in the status's list, estimated from when links tend to change: the
  ages at which the warehouse saw links leave `active` before, or, with no such history, the
  creation times of the links held as active.

Reading a final status from its newest end costs a page per 100 links it passes; a link not
reached that way is fetched by id (or the status read whole, if that is estimated cheaper).
The active list is read whole or its links fetched by id, whichever is fewer requests. The
incremental sync is taken when its estimate is clearly below a full sweep's
(INCREMENTAL_SHARE of it): the estimates are rough, a full sweep's cost is not. Once taken,
a final status is read from its newest end for as long as its pages bring news, whatever the
estimate; what that leaves is fetched by id, or swept, whichever costs less then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pik_recon.client import PAGE_LIMIT

INCREMENTAL_SHARE = 0.75
FINAL = ("paid", "expired", "deactivated")


def pages(links: int) -> int:
    return math.ceil(max(0, links) / PAGE_LIMIT)


@dataclass(frozen=True)
class Shape:
    """What the first pages and the warehouse say before an incremental sync reads more."""

    total: int  # PIK's count of every link
    totals: dict[str, int]  # PIK per status
    known: int  # links the warehouse holds
    held: dict[str, int]  # the warehouse per status
    shares: list[float]  # cut points: the share of changes expected at or after each ...
    after: dict[str, list[int]]  # ... and per final status, links held created after it
    newest_first: dict[str, bool | None]  # per final status: True, False (oldest first), None


@dataclass(frozen=True)
class Plan:
    full: bool
    active: str  # "list" or "by id"
    final: dict[str, str]  # per final status: "top", "list" or "by id"
    incremental_cost: int
    full_cost: int

    def describe(self) -> str:
        if self.full:
            return (f"full sweep: about {self.full_cost:,} requests, an incremental sync "
                    f"about {self.incremental_cost:,}")
        reads = ", ".join(f"{s} {how}" for s, how in self.final.items())
        return (f"incremental: about {self.incremental_cost:,} requests against a full "
                f"sweep's {self.full_cost:,} (active {self.active}, {reads})")


def top_cost(gained: int, shares: list[float], after: list[int]) -> int:
    """Reading a final status from its newest end down to the cut that costs least: pages
    over the links it passes, plus a fetch by id for each gained link beyond the cut."""
    best = gained  # no page at all: every gained link by id
    for share, held_after in zip(shares, after, strict=True):
        best = min(best, pages(held_after + round(gained * share)) - 1
                   + round(gained * (1 - share)))
    return max(0, best)


def plan_incremental(shape: Shape) -> Plan:
    """The cheaper of an incremental sync and a full sweep, with how to read each status."""
    full_cost = pages(shape.total) + 1
    new = shape.total - shape.known
    gained = {s: shape.totals[s] - shape.held.get(s, 0) for s in FINAL}
    if new < 0 or any(g < 0 for g in gained.values()):  # PIK lost links: sweep everything
        return Plan(True, "list", dict.fromkeys(FINAL, "list"), full_cost, full_cost)
    held_active = shape.held.get("active", 0)
    active_list = pages(shape.totals["active"]) - 1
    active = ("list", active_list) if active_list <= held_active else ("by id", held_active)
    final, cost = {}, active[1] + 2
    for status in FINAL:
        whole = pages(shape.totals[status]) - 1
        if shape.newest_first.get(status) is None:  # no newest end to read from
            final[status], estimate = "list", whole
        else:  # read from the newest end while it pays, whatever the estimate says
            final[status] = "top"
            estimate = min(whole, top_cost(gained[status], shape.shares, shape.after[status]))
        cost += estimate
    return Plan(cost >= INCREMENTAL_SHARE * full_cost, active[0], final, cost, full_cost)

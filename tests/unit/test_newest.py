"""newest.py against httpx.MockTransport: the links created since a moment, and when their
absence is proven, in each order a list may come in."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pik_recon.client import PikClient
from pik_recon.config import PikSettings, Secret
from pik_recon.creation.newest import Newest, NewestLinks

SETTINGS = PikSettings(base_url="https://api.pik.global/v1", rate_limit_enabled=False)
START = datetime(2026, 11, 1, tzinfo=UTC)


class FakeList:
    """Every link, one a minute from START; `grow` more before every answer."""

    def __init__(self, count: int, order: str, grow: int = 0) -> None:
        self.links = [self._link(i) for i in range(count)]
        self.order, self.grow = order, grow
        self.offsets: list[int] = []
        self.rng = random.Random(1)

    @staticmethod
    def _link(i: int) -> dict:
        return {"id": f"pl_{i}", "created_at": (START + timedelta(minutes=i)).isoformat()}

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.links += [self._link(len(self.links)) for _ in range(self.grow)]
        offset = int(request.url.params["offset"])
        self.offsets.append(offset)
        ordered = {"newest": self.links[::-1], "oldest": self.links,
                   "shuffled": self.rng.sample(self.links, len(self.links))}[self.order]
        return httpx.Response(200, json={"data": ordered[offset:offset + 100],
                                         "total": len(self.links)})


def _since(fake: FakeList, position: int) -> Newest:
    async def go() -> Newest:
        async with PikClient(SETTINGS, Secret("k"),
                             transport=httpx.MockTransport(fake.handler)) as client:
            return await NewestLinks(client).since(position)
    return asyncio.run(go())


@pytest.mark.parametrize("order", ["newest", "oldest"])
@pytest.mark.parametrize("grow", [0, 30])
def test_the_links_beyond_a_position_are_read_from_the_newest_end_only(order: str,
                                                                       grow: int) -> None:
    fake = FakeList(20_000, order, grow)

    found = _since(fake, 19_750)  # the last 250 links at the start lie beyond it

    assert found.proven
    ids = {r["id"] for r in found.records}
    assert {f"pl_{i}" for i in range(19_750, 20_000)} <= ids  # none that existed is skipped
    assert all(int(i[3:]) >= 19_600 for i in ids)
    assert len(fake.offsets) <= 7  # a few pages, not the 200 of the whole list
    if order == "oldest":
        assert fake.offsets[1] == 19_750  # straight from the position onwards


def test_pik_stamps_far_from_our_clock_change_nothing() -> None:
    fake = FakeList(1_000, "newest")
    fake.links = [{**link, "created_at": (datetime(1999, 1, 1, tzinfo=UTC)
                                          + timedelta(seconds=i)).isoformat()}
                  for i, link in enumerate(fake.links)]

    found = _since(fake, 950)

    assert found.proven
    assert {r["id"] for r in found.records} == {f"pl_{i}" for i in range(900, 1_000)}


@pytest.mark.parametrize("order", ["shuffled", "id"])
def test_a_list_in_no_creation_order_proves_nothing_and_costs_one_page(order: str) -> None:
    fake = FakeList(1_000, "shuffled" if order == "shuffled" else "newest")
    if order == "id":  # ids that do not follow creation
        fake.links = sorted(fake.links, key=lambda link: str(int(link["id"][3:]) * 7919 % 1009))
    found = _since(fake, 990)
    assert not found.proven
    assert len(fake.offsets) == 1


def test_a_list_on_one_page_proves_absence_whatever_its_order() -> None:
    fake = FakeList(40, "shuffled")
    found = _since(fake, 30)
    assert found.proven
    assert sorted(r["id"] for r in found.records) == sorted(f"pl_{i}" for i in range(40))


def test_a_total_still_at_the_position_proves_absence_whatever_its_order() -> None:
    fake = FakeList(1_000, "shuffled")
    found = _since(fake, 1_000)
    assert found.proven
    assert len(fake.offsets) == 1


def test_a_total_below_the_position_proves_nothing() -> None:
    fake = FakeList(1_000, "newest")
    assert not _since(fake, 1_001).proven  # links are never removed: this PIK broke that


@pytest.mark.parametrize(("order", "position"), [("newest", 0), ("oldest", 930)])
def test_pages_holding_fewer_links_than_their_total_prove_nothing(order: str,
                                                                  position: int) -> None:
    """The short page is the list's oldest end, read when the position lies there (newest
    first) and always (oldest first)."""
    fake = FakeList(1_000, order)
    hidden = fake.links.pop(40)  # counted in the total, never listed
    real = fake.handler

    def handler(request: httpx.Request) -> httpx.Response:
        body = real(request).json()
        return httpx.Response(200, json={**body, "total": body["total"] + 1})

    fake.handler = handler  # type: ignore[method-assign]
    found = _since(fake, position)
    assert hidden["id"] not in {r["id"] for r in found.records}
    assert not found.proven

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
from pik_recon.newest import Newest, NewestLinks

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


def _since(fake: FakeList, moment: datetime, reader: NewestLinks | None = None) -> Newest:
    async def go() -> Newest:
        async with PikClient(SETTINGS, Secret("k"),
                             transport=httpx.MockTransport(fake.handler)) as client:
            return await (reader or NewestLinks(client)).since(moment)
    return asyncio.run(go())


@pytest.mark.parametrize("order", ["newest", "oldest"])
@pytest.mark.parametrize("grow", [0, 30])
def test_the_newest_links_are_read_from_the_newest_end_only(order: str, grow: int) -> None:
    fake = FakeList(20_000, order, grow)
    moment = START + timedelta(minutes=19_750)  # the last 250 links at the start

    found = _since(fake, moment)

    assert found.proven
    ids = {r["id"] for r in found.records}
    assert {f"pl_{i}" for i in range(19_750, 20_000)} <= ids  # none that existed is skipped
    assert all(int(i[3:]) >= 19_750 for i in ids)
    assert len(fake.offsets) <= 6  # a few pages, not the 200 of the whole list
    if order == "oldest":
        assert 0 not in fake.offsets[1:]  # from the end backwards


def test_a_list_in_no_order_is_read_whole_and_proves_nothing() -> None:
    fake = FakeList(1_000, "shuffled")
    found = _since(fake, START + timedelta(minutes=990))
    assert not found.proven
    assert len(fake.offsets) >= 10


def test_a_list_on_one_page_proves_absence_whatever_its_order() -> None:
    fake = FakeList(40, "shuffled")
    found = _since(fake, START + timedelta(minutes=30))
    assert found.proven
    assert sorted(r["id"] for r in found.records) == sorted(f"pl_{i}" for i in range(30, 40))

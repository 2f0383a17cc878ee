"""newest.py against httpx.MockTransport: the links created since a moment, and when their
absence is proven, in each order a list may come in."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pik_recon.client import PikClient
from pik_recon.config import PikSettings, Secret
from pik_recon.creation.newest import Newest, NewestLinks, Position

SETTINGS = PikSettings(base_url="https://api.pik.global/v1", rate_limit_enabled=False)
START = datetime(2026, 11, 1, tzinfo=UTC)


class FakeList:
    """Every link, one a minute from START; `grow` more before every answer. `rotated`: newest
    first, but from a different link each time (any order is allowed): every page looks
    ordered, and offset 0 is not the newest link."""

    def __init__(self, count: int, order: str, grow: int = 0) -> None:
        self.links = [self._link(i) for i in range(count)]
        self.order, self.grow = order, grow
        self.offsets: list[int] = []
        self.rng = random.Random(1)
        self.turns: list[int] = []  # the rotations of the next answers, before random ones

    @staticmethod
    def _link(i: int) -> dict:
        return {"id": f"pl_{i}", "created_at": (START + timedelta(minutes=i)).isoformat()}

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.links += [self._link(len(self.links) + i) for i in range(self.grow)]
        offset = int(request.url.params["offset"])
        self.offsets.append(offset)
        turn = self.turns.pop(0) if self.turns else self.rng.randrange(1, len(self.links))
        ordered = {"newest": self.links[::-1], "oldest": self.links,
                   "rotated": self.links[turn - 1::-1] + self.links[:turn - 1:-1],
                   "shuffled": self.rng.sample(self.links, len(self.links))}[self.order]
        return httpx.Response(200, json={"data": ordered[offset:offset + 100],
                                         "total": len(self.links)})


def _stamp_of(i: int) -> str:
    return FakeList._link(i)["created_at"]


def _at(total: int) -> Position:
    """The position an ordered answer of `total` links gives: the boundary between its newest
    link and the one before, so `total - 1` links are stamped at or before link total - 2."""
    return Position(total, _stamp_of(total - 2), total - 1)


def _since(fake: FakeList, position: int | Position) -> Newest:
    async def go() -> Newest:
        async with PikClient(SETTINGS, Secret("k"),
                             transport=httpx.MockTransport(fake.handler)) as client:
            return await NewestLinks(client).since(
                _at(position) if isinstance(position, int) else position)
    return asyncio.run(go())


def _position(fake: FakeList) -> Position:
    async def go() -> Position:
        async with PikClient(SETTINGS, Secret("k"),
                             transport=httpx.MockTransport(fake.handler)) as client:
            return await NewestLinks(client).position()
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
        assert fake.offsets[1] == 19_748  # straight from the link before the anchor onwards


def test_pik_stamps_far_from_our_clock_change_nothing() -> None:
    fake = FakeList(1_000, "newest")
    fake.links = [{**link, "created_at": (datetime(1999, 1, 1, tzinfo=UTC)
                                          + timedelta(seconds=i)).isoformat()}
                  for i, link in enumerate(fake.links)]

    found = _since(fake, Position(950, fake.links[948]["created_at"], 949))

    assert found.proven
    assert {r["id"] for r in found.records} == {f"pl_{i}" for i in range(900, 1_000)}


@pytest.mark.parametrize("order", ["shuffled", "id"])
def test_a_list_in_no_creation_order_proves_nothing_and_costs_two_pages_at_most(
        order: str) -> None:
    """The first page shows no order; the page at the position's boundary is read too, as
    one unreadable stamp among the oldest links would show none either."""
    fake = FakeList(1_000, "shuffled" if order == "shuffled" else "newest")
    if order == "id":  # ids that do not follow creation
        fake.links = sorted(fake.links, key=lambda link: str(int(link["id"][3:]) * 7919 % 1009))
    found = _since(fake, 990)
    assert not found.proven
    assert fake.offsets in ([0], [0, 988])


def test_a_list_on_one_page_proves_absence_whatever_its_order() -> None:
    fake = FakeList(40, "shuffled")
    found = _since(fake, 30)
    assert found.proven
    assert sorted(r["id"] for r in found.records) == sorted(f"pl_{i}" for i in range(40))


@pytest.mark.parametrize(("order", "offsets"), [("newest", [0]), ("oldest", [0, 998, 998])])
def test_a_total_still_at_the_position_proves_absence_where_the_list_shows_it(
        order: str, offsets: list[int]) -> None:
    """Newest first, any link created since is on the first page, whatever its total says;
    oldest first, it is past the boundary, read to the page that ends short."""
    fake = FakeList(1_000, order)
    found = _since(fake, 1_000)
    assert found.proven
    assert fake.offsets == offsets


def test_a_total_still_at_the_position_of_a_list_in_no_order_proves_nothing() -> None:
    """A total may lag its own list: in no order, the link it missed could be anywhere."""
    fake = FakeList(1_000, "shuffled")
    assert not _since(fake, 1_000).proven
    assert len(fake.offsets) <= 3


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


@pytest.mark.parametrize(("order", "requests"), [("newest", 1), ("oldest", 2)])
def test_a_position_names_the_boundary_below_the_newest_stamp(order: str,
                                                              requests: int) -> None:
    fake = FakeList(1_000, order)
    assert _position(fake) == Position(1_000, _stamp_of(998), 999)
    assert len(fake.offsets) == requests  # oldest first, the newest links are on the last page


@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_a_position_cuts_below_every_link_stamped_like_the_newest(order: str) -> None:
    """A link created later may share the newest stamp: the boundary lies below all of
    the links stamped so, 997-999 here."""
    fake = FakeList(1_000, order)
    for i in (998, 999):
        fake.links[i] = {**fake.links[i], "created_at": _stamp_of(997)}
    assert _position(fake) == Position(1_000, _stamp_of(996), 997)


def test_a_lost_link_stamped_like_the_newest_is_found_and_proven() -> None:
    """The two newest links share a second, and so does the link whose answer was lost;
    PIK lists the three in a different order at every answer."""
    links = [_stamped(i, 999 if i >= 998 else None) for i in range(1_000)]
    position = _served_position(links)
    assert position == Position(1_000, links[997]["created_at"], 998)
    links.append(_stamped(1_000, 999))
    tied = [[links[998], links[1_000], links[999]], [links[1_000], links[999], links[998]]]

    found, offsets = _served(lambda n: (tied[n % 2] + links[997::-1], len(links)), position)

    assert found.proven
    assert "pl_1000" in {r["id"] for r in found.records}
    assert offsets == [0, 2]  # one page, then the boundary's second answer, from offset 2


@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_links_created_in_bursts_of_one_second_are_proven(order: str) -> None:
    """Bulk creation sends its POSTs in bursts: 30 links a second, listed in any order
    within their second, a new order at every answer, and 7 more created before each."""
    rng = random.Random(5)
    links = [_stamped(i, i // 30) for i in range(2_000)]

    def serve(n: int) -> tuple[list[dict], int]:
        links.extend(_stamped(len(links), len(links) // 30) for _ in range(7))
        shown = sorted(links, key=lambda link: (link["created_at"], rng.random()))
        return (shown[::-1] if order == "newest" else shown), len(links)

    position = _positioned(serve)
    assert position.below and position.total - position.below <= 30
    lost = len(links)
    links.append(_stamped(lost, lost // 30))

    found, offsets = _served(serve, position)

    assert found.proven
    assert {f"pl_{i}" for i in range(lost, len(links) - 7)} <= {r["id"] for r in found.records}
    assert len(offsets) <= 4


def test_a_list_in_no_creation_order_gives_a_position_without_anchor() -> None:
    assert _position(FakeList(1_000, "shuffled")) == Position(1_000)


def test_an_anchor_taken_from_a_list_served_from_another_start_is_found_out_later() -> None:
    fake = FakeList(1_000, "rotated")
    position = _position(fake)
    assert position.anchor is not None  # its page looked ordered
    assert position != Position(1_000, _stamp_of(998), 999)
    fake.grow = 1

    assert not _since(fake, position).proven


@pytest.mark.parametrize("grow", [1, 30])
def test_sorted_pages_from_a_different_start_each_time_prove_nothing(grow: int) -> None:
    """The lost link (one of the `grow` created since) is newest, yet a page from another
    start looks just as ordered: only the anchor out of place shows it."""
    fake = FakeList(1_000, "rotated")
    fake.grow, fake.links = 0, fake.links + [FakeList._link(1_000 + i) for i in range(grow)]

    found = _since(fake, 1_000)

    assert not found.proven
    assert "pl_1000" not in {r["id"] for r in found.records}  # what proving it would miss


@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_an_anchor_that_is_not_where_the_numbering_puts_it_proves_nothing(order: str) -> None:
    fake = FakeList(1_000, order)
    assert not _since(fake, Position(950, _stamp_of(947), 949)).proven
    assert _since(fake, Position(950, _stamp_of(948), 949)).proven


@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_a_position_without_anchor_is_read_from_the_start_of_the_list(order: str) -> None:
    fake = FakeList(1_000, order)

    found = _since(fake, Position(950))

    assert found.proven
    assert {r["id"] for r in found.records} >= {f"pl_{i}" for i in range(1_000)}
    assert _since(FakeList(1_000, order), Position(0)).proven


def test_an_anchor_in_place_once_by_chance_proves_nothing() -> None:
    """The position's answer started at link 500, and so, by chance, does the look-up's
    first page, shifted by the link created since: the anchor stands where the numbering
    puts it. The second answer, from another start, does not show it there."""
    fake = FakeList(1_000, "rotated")
    fake.turns = [501]
    position = _position(fake)
    assert position == Position(1_000, _stamp_of(499), 999)
    fake.links.append(FakeList._link(1_000))  # the link whose answer was lost
    fake.turns = [502, 77]  # the look-up's first page, then its anchor's page from another start

    found = _since(fake, position)

    assert not found.proven
    assert "pl_1000" not in {r["id"] for r in found.records}


def test_a_page_from_another_start_between_pages_in_place_proves_nothing() -> None:
    """Every page looks ordered and the anchor stands in place twice, but the second page
    starts elsewhere: the links it should have held are never read, and the join shows it."""
    fake = FakeList(1_001, "rotated")
    fake.turns = [1_001, 500, 1_001, 1_001, 1_001]  # pages 0, 99, 198, 297, then the anchor's

    found = _since(fake, Position(700, _stamp_of(698), 699))

    assert fake.offsets[:2] == [0, 98]  # the second page from the first's link at 98
    assert not found.proven
    assert "pl_850" not in {r["id"] for r in found.records}  # what proving it would miss


@pytest.mark.parametrize("turns", [[1_001, 1] * 10, [600] * 20],
                         ids=["two-starts", "one-start"])
def test_a_list_from_another_start_read_whole_proves_nothing(turns: list[int]) -> None:
    """Without an anchor the whole list is read: pages from two starts, each ordered, do not
    join; pages all from one wrong start join, but then the oldest link meets the newest in
    one of them."""
    fake = FakeList(1_001, "rotated")
    fake.turns = list(turns)

    assert not _since(fake, Position(1_000)).proven


def test_oldest_first_a_page_that_skips_ahead_proves_nothing() -> None:
    """The second page starts three links further than its offset (98, the first page's
    join): ordered, full, the same total, and link 100 is never read."""
    fake = FakeList(1_000, "oldest")
    real = fake.handler

    def handler(request: httpx.Request) -> httpx.Response:
        if len(fake.offsets) != 2:  # the look-up's first page, then the read from offset 0
            return real(request)
        ahead = request.url.copy_set_param("offset", int(request.url.params["offset"]) + 3)
        return real(httpx.Request("GET", ahead))

    fake.handler = handler  # type: ignore[method-assign]
    found = _since(fake, Position(0))

    assert fake.offsets[:3] == [0, 0, 101]
    assert not found.proven
    assert "pl_100" not in {r["id"] for r in found.records}


def _stamped(i: int, second: int | None = None) -> dict:
    return {"id": f"pl_{i}",
            "created_at": (START + timedelta(seconds=i if second is None else second)
                           ).isoformat()}


Serve = Callable[[int], tuple[list[dict], int]]  # the n-th answer's whole list and total


def _client_of(serve: Serve, offsets: list[int]) -> PikClient:
    def handler(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        ordered, total = serve(len(offsets))
        offsets.append(offset)
        return httpx.Response(200, json={"data": ordered[offset:offset + limit],
                                         "total": total})
    return PikClient(SETTINGS, Secret("k"), transport=httpx.MockTransport(handler))


def _served_position(links: list[dict]) -> Position:
    """The position of a newest-first answer of `links` (given oldest first)."""
    return _positioned(lambda n: (links[::-1], len(links)))


def _positioned(serve: Serve) -> Position:
    async def go() -> Position:
        async with _client_of(serve, []) as client:
            return await NewestLinks(client).position()
    return asyncio.run(go())


def _served(serve: Serve, position: Position) -> tuple[Newest, list[int]]:
    offsets: list[int] = []

    async def go() -> Newest:
        async with _client_of(serve, offsets) as client:
            return await NewestLinks(client).since(position)
    return asyncio.run(go()), offsets


def test_links_stamped_alike_across_a_join_are_each_read_once() -> None:
    """Links 1049-1051 share a second at offsets 98-100, and PIK orders them differently
    from one answer to the next: a join inside them would let one slip between the
    pages. Pages join where the stamps change."""
    links = [_stamped(i, 1_050 if 1_049 <= i <= 1_051 else None) for i in range(1_150)]

    def serve(n: int) -> tuple[list[dict], int]:
        newest = links[::-1]
        if n:
            newest[98], newest[100] = newest[100], newest[98]
        return newest, len(links)

    found, offsets = _served(serve, Position(1_000, links[998]["created_at"], 999))

    ids = [r["id"] for r in found.records]
    assert found.proven
    assert offsets[1] == 97  # one before the last boundary of the first page, at 98
    assert {f"pl_{i}" for i in range(1_000, 1_150)} <= set(ids)
    assert len(ids) == len(set(ids))  # each link once, though the pages overlap


def test_a_list_shifted_by_one_within_links_stamped_alike_proves_nothing() -> None:
    """996-998 share a second, and the boundary lies below 999. Served one link along
    (any order is allowed), the place of the boundary shows a link stamped like the
    anchor in both answers; only its neighbour, stamped alike too, shows the shift. The
    lost link 1000 is then at the far end of the list, never read."""
    links = [_stamped(i, 996 if 996 <= i <= 998 else None) for i in range(1_000)]
    position = Position(1_000, links[996]["created_at"], 999)
    links.append(_stamped(1_000))
    shifted = links[-2::-1] + links[-1:]

    found, _ = _served(lambda n: (shifted, len(shifted)), position)

    assert "pl_1000" not in {r["id"] for r in found.records}
    assert not found.proven


def test_a_first_page_stamped_all_alike_gives_no_boundary() -> None:
    links = [_stamped(i, 7 if i >= 850 else None) for i in range(1_000)]
    assert _served_position(links) == Position(1_000)


def test_a_lagging_answer_below_the_position_proves_nothing() -> None:
    """The position saw 1,005 links; the look-up's answer comes from a copy of the list
    that lags at 1,003."""
    links = [_stamped(i) for i in range(1_006)]
    position = Position(1_005, links[1_003]["created_at"], 1_004)

    found, _ = _served(lambda n: (links[1_002::-1], 1_003), position)

    assert not found.proven


def test_oldest_first_a_total_below_the_first_answer_proves_nothing() -> None:
    """The first answer counts 1,005 links; the next come from a copy of the list that
    lags at 1,000: links 1000-1004 would never be read."""
    links = [_stamped(i) for i in range(1_005)]

    found, _ = _served(lambda n: (links, 1_005) if n == 0 else (links[:1_000], 1_000),
                       Position(1_000, links[998]["created_at"], 999))

    assert not found.proven


def test_stamps_with_and_without_a_time_zone_prove_nothing_and_raise_nothing() -> None:
    links = [_stamped(i) for i in range(1_000)]
    links[500] = {**links[500], "created_at": links[500]["created_at"][:19]}

    found, _ = _served(lambda n: (links[::-1], len(links)), Position(0))

    assert not found.proven


def test_oldest_first_a_boundary_in_place_once_by_chance_proves_nothing() -> None:
    """Oldest first, PIK served the position's answers from link 600 (ordered pages, any
    order is allowed), so its boundary lies between links 598 and 599; the look-up's page
    from the boundary comes, by chance, from the same start, shifted by the link created
    since. The second answer there, from the list's true start, does not show it."""
    links = [_stamped(i) for i in range(1_000)]
    turns = [600, 600]

    def serve(n: int) -> tuple[list[dict], int]:
        turn = turns[n]
        return links[turn:] + links[:turn], len(links)

    position = _positioned(serve)
    assert position == Position(1_000, links[598]["created_at"], 999)
    links.append(_stamped(1_000))
    turns[:] = [0, 601, 0]  # the look-up's first page, its page from 998, the second answer

    found, offsets = _served(serve, position)

    assert offsets == [0, 998, 998]
    assert "pl_1000" not in {r["id"] for r in found.records}
    assert not found.proven


def _lagging(links: list[dict], lag: int, newest: bool = False) -> Serve:
    """Every answer holds the whole list, but its total counts `lag` links fewer."""
    return lambda n: (links[::-1] if newest else links, len(links) - lag)


@pytest.mark.parametrize(("order", "lag", "proven"),
                         [("newest", 0, True), ("newest", 1, True),
                          ("oldest", 0, True), ("oldest", 1, False)])
def test_a_total_that_lags_its_list_never_proves_the_link_it_missed_absent(
        order: str, lag: int, proven: bool) -> None:
    """The lost link is listed, but the total still says 500, the position's. Newest first
    it is on the first page; oldest first it lies past the end the total names."""
    links = [_stamped(i) for i in range(500)]
    position = _positioned(_lagging(links, 0, order == "newest"))
    links.append(_stamped(500))

    found, _ = _served(_lagging(links, lag, order == "newest"), position)

    assert found.proven is proven
    if proven:
        assert "pl_500" in {r["id"] for r in found.records}


def test_a_first_page_holding_more_links_than_its_total_proves_nothing() -> None:
    links = [_stamped(i) for i in range(50)]
    position = _positioned(_lagging(links, 0))
    links += [_stamped(i) for i in range(50, 201)]

    found, offsets = _served(lambda n: (links, 66), position)

    assert not found.proven
    assert offsets == [0]


@pytest.mark.parametrize(("lag", "proven"), [(0, True), (1, False)])
def test_oldest_first_a_page_ending_where_the_total_says_is_not_yet_the_end(
        lag: int, proven: bool) -> None:
    """The page from the boundary holds 100 links and reaches the total exactly; only a
    page that ends short shows the list's end, and a late total hid link 998 past it."""
    links = [_stamped(i) for i in range(998 + lag)]
    position = Position(899, links[898]["created_at"], 899)

    found, offsets = _served(lambda n: (links, 998), position)

    assert found.proven is proven
    assert offsets == [0, 898, 898, 996]
    if proven:
        assert {f"pl_{i}" for i in range(899, 998)} <= {r["id"] for r in found.records}


def test_newest_first_a_whole_read_ends_only_on_a_page_that_ends_short() -> None:
    links = [_stamped(i) for i in range(1_001)]

    found, _ = _served(_lagging(links, 1, newest=True), Position(0))

    assert not found.proven  # the oldest link, pl_0, lies past the total's end


def test_oldest_first_an_unreadable_stamp_among_the_oldest_links_blocks_nothing() -> None:
    links = [_stamped(i) for i in range(1_000)]
    links[5] = {**links[5], "created_at": "yesterday"}
    position = _positioned(_lagging(links, 0))
    assert position == Position(1_000, links[998]["created_at"], 999)
    links.append(_stamped(1_000))

    found, offsets = _served(_lagging(links, 0), position)

    assert found.proven
    assert "pl_1000" in {r["id"] for r in found.records}
    assert offsets == [0, 998, 998]


def test_ids_alike_only_as_text_are_two_links() -> None:
    links = [_stamped(i) for i in range(40)]
    links[3], links[4] = {**links[3], "id": 1}, {**links[4], "id": "1"}

    found, _ = _served(_lagging(links, 0), Position(30))

    assert found.proven
    assert len(found.records) == 40


def _pinned(links: list[dict]) -> list[dict]:
    """The newest link first, then the others oldest first (any order is allowed)."""
    return [links[-1], *links[:-1]]


def _by_status(links: list[dict]) -> list[dict]:
    """Active links oldest first, then paid ones oldest first (any order is allowed)."""
    return ([link for link in links if link["status"] == "active"]
            + [link for link in links if link["status"] == "paid"])


def test_a_list_whose_front_is_not_oldest_first_proves_nothing_though_its_end_is() -> None:
    """The lost link takes the newest's place at offset 0 and every offset from 1 on stays
    put: the boundary near the end stands where it stood, twice, and the last page ends
    short. Only the front shows the list is not oldest first."""
    links = [_stamped(i) for i in range(250)]
    position = _positioned(lambda n: (_pinned(links), len(links)))
    links.append(_stamped(250))
    found, _ = _served(lambda n: (_pinned(links), len(links)), position)
    known, _ = _served(lambda n: (_pinned(links), len(links)),
                       Position(250, links[248]["created_at"], 249))

    assert position == Position(250)
    assert not found.proven and not known.proven


def test_a_list_grouped_by_status_proves_nothing() -> None:
    """The newest link is paid after the position, and the lost link joins the active ones
    at the front, out of reach of a read from the boundary on."""
    links = [{**_stamped(i), "status": "paid" if i < 200 else "active"} for i in range(250)]
    position = _positioned(lambda n: (_by_status(links), len(links)))
    links[-1] = {**links[-1], "status": "paid"}
    links.append({**_stamped(250), "status": "active"})
    known = Position(250, links[248]["created_at"], 249)

    found, _ = _served(lambda n: (_by_status(links), len(links)), position)
    anchored, _ = _served(lambda n: (_by_status(links), len(links)), known)

    assert not found.proven and not anchored.proven

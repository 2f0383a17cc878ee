"""coverage.py: index spans, the frame of a page, and where to aim the next one."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pik_recon.sync.coverage import NEWEST, OLDEST, UNKNOWN, Coverage, Spans, detect_frame


@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 40)), max_size=30))
def test_spans_hold_exactly_the_indexes_added(pieces: list[tuple[int, int]]) -> None:
    spans, truth = Spans(), set()
    for lo, length in pieces:
        spans.add(lo, lo + length)
        truth |= set(range(lo, lo + length))
    missing = {i for a, b in spans.missing(0, 400) for i in range(a, b)}
    assert missing == set(range(400)) - truth
    assert len(spans) <= len(pieces)


def test_missing_is_bounded_by_the_range_asked() -> None:
    spans = Spans()
    spans.add(10, 20)
    spans.add(30, 40)
    assert list(spans.missing(15, 35)) == [(20, 30)]
    assert list(spans.missing(0, 10)) == [(0, 10)]
    assert list(spans.missing(12, 18)) == []


def _page(start: str, step: int, n: int = 5) -> list[dict]:
    return [{"created_at": f"2026-11-{int(start) + step * i:02d}T00:00:00Z"} for i in range(n)]


def test_the_frame_of_a_page_is_read_from_its_creation_times() -> None:
    assert detect_frame(_page("20", -1)) == NEWEST
    assert detect_frame(_page("01", 1)) == OLDEST
    shuffled = _page("01", 1)
    shuffled[1], shuffled[3] = shuffled[3], shuffled[1]
    assert detect_frame(shuffled) == UNKNOWN
    assert detect_frame(_page("05", 0)) == UNKNOWN  # one instant tells no order
    assert detect_frame([*_page("20", -1), {"created_at": "yesterday"}]) == UNKNOWN
    assert detect_frame([]) == UNKNOWN


def test_newest_first_a_page_covers_indexes_counted_from_the_oldest_link() -> None:
    coverage = Coverage(NEWEST, 100)
    assert coverage.indexes(offset=0, count=100, total=1_000) == (900, 1_000)
    # ten links added since: the same offset holds ten newer links, the same indexes less ten
    assert coverage.indexes(offset=0, count=100, total=1_010) == (910, 1_010)
    assert coverage.indexes(offset=950, count=50, total=1_000) == (0, 50)
    assert Coverage(OLDEST, 100).indexes(offset=200, count=100, total=1_000) == (200, 300)


@pytest.mark.parametrize("added", [0, 1, 7, 60])
def test_a_page_aimed_newest_first_reaches_its_target_however_many_links_are_added(
        added: int) -> None:
    """The list only grows at its newest end; aimed with the total seen, the page still
    holds the indexes just below `hi`, shifted up by what was added meanwhile."""
    coverage, seen = Coverage(NEWEST, 100), 5_000
    offset = coverage.offset_for(3_000, 3_100, seen)
    lo, hi = coverage.indexes(offset, 100, seen + added)
    assert hi == 3_100 + added and lo == 3_000 + added


def test_a_sweep_aimed_below_each_answer_leaves_no_gap_in_a_growing_list() -> None:
    """A simulated list, newest first, growing by a random number of links before every
    answer: pages aimed next to the previous answer's coverage leave nothing uncovered."""
    rng, total = random.Random(3), 10_000
    coverage = Coverage(NEWEST, 100)
    target, pages = total, 0
    while target > 0 and pages < 200:
        pages += 1
        offset = coverage.offset_for(target - 100, target, total)
        total += rng.randrange(0, 12)  # added while the page is in flight
        count = min(100, total - offset)
        coverage.add(offset, count, total)
        target = coverage.gaps(0, target)[-1][1] if coverage.gaps(0, target) else 0
    assert coverage.gaps(0, 10_000) == []
    # a page per 100 links, less the links added while each was in flight (11 at most)
    assert pages <= math.ceil(10_000 / (100 - 11)) + 1

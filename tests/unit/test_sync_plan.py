"""plan.py, proof.py and the request budget: choices and verdicts from known numbers."""

from __future__ import annotations

import pytest

from pik_recon.config import load_config
from pik_recon.errors import ConfigError
from pik_recon.listorder import Order
from pik_recon.sync.plan import Shape, plan_incremental, top_cost
from pik_recon.sync.proof import Proof, gap_verdict, moved_note, verified_verdict
from pik_recon.sync.resource import LINKS, TRANSACTIONS
from pik_recon.sync.session import request_budget

TEN_CUTS = [i / 10 for i in range(1, 11)]


def _shape(total: int, held: dict[str, int], gained: dict[str, int], active_now: int,
           after: dict[str, list[int]], shares: list[float] = TEN_CUTS) -> Shape:
    totals = {"active": active_now, **{s: held[s] + g for s, g in gained.items()}}
    return Shape(total=total, totals=totals, known=sum(held.values()), held=held,
                 open=("active",), shares=shares, after=after,
                 orders=dict.fromkeys(("paid", "expired", "deactivated"), Order.NEWEST))


def test_links_active_for_months_changing_anywhere_make_a_full_sweep_cheaper() -> None:
    """20,000 links, a quarter active and spread over half a year: 400 changed anywhere."""
    held = {"active": 5_000, "paid": 7_500, "expired": 3_750, "deactivated": 3_750}
    after = {s: [round(n * share) for share in TEN_CUTS] for s, n in held.items()}
    shape = _shape(20_400, held, {"paid": 200, "expired": 100, "deactivated": 100}, 5_000,
                   after)
    plan = plan_incremental(shape)
    assert plan.full
    assert plan.full_cost == 205
    assert plan.incremental_cost > 0.75 * plan.full_cost


def test_links_that_change_while_young_are_read_from_the_newest_end() -> None:
    """A million links; the held-active ones all created lately, so the links that changed
    sit at the top of each final status's list."""
    held = {"active": 20_000, "paid": 760_000, "expired": 180_000, "deactivated": 40_000}
    after = {"paid": [400 * i for i in range(1, 11)], "expired": [100 * i for i in range(1, 11)],
             "deactivated": [50 * i for i in range(1, 11)]}
    shape = _shape(1_005_000, held, {"paid": 3_000, "expired": 1_000, "deactivated": 1_000},
                   22_000, after)
    plan = plan_incremental(shape)
    assert not plan.full
    assert plan.final == dict.fromkeys(("paid", "expired", "deactivated"), "top")
    assert plan.open == {"active": "list"}
    assert plan.incremental_cost < plan.full_cost / 20


def test_a_status_whose_list_has_no_newest_end_is_read_whole() -> None:
    held = {"active": 10, "paid": 1_000, "expired": 100, "deactivated": 10}
    shape = _shape(1_200, held, {"paid": 5, "expired": 0, "deactivated": 0}, 12,
                   {s: [0] * 10 for s in ("paid", "expired", "deactivated")})
    unordered = Shape(**{**shape.__dict__, "orders": {
        "paid": Order.UNKNOWN, "expired": Order.NEWEST, "deactivated": Order.OLDEST}})
    assert plan_incremental(unordered).final["paid"] == "list"
    assert plan_incremental(shape).final["paid"] == "top"


def test_a_few_links_held_as_active_are_fetched_by_id_rather_than_listed() -> None:
    held = {"active": 1, "paid": 1_000, "expired": 100, "deactivated": 10}
    no_cuts = {s: [0] * 10 for s in ("paid", "expired", "deactivated")}
    few = _shape(1_400, held, {"paid": 0, "expired": 0, "deactivated": 0}, 250, no_cuts)
    assert plan_incremental(few).open == {"active": "by id"}  # one fetch, not 2 pages
    many = _shape(1_400, {**held, "active": 3}, {"paid": 0, "expired": 0, "deactivated": 0},
                  250, no_cuts)
    assert plan_incremental(many).open == {"active": "list"}


def test_pik_counting_fewer_links_than_held_means_a_full_sweep() -> None:
    held = {"active": 10, "paid": 1_000, "expired": 100, "deactivated": 10}
    shape = _shape(1_100, held, {"paid": -3, "expired": 0, "deactivated": 0}, 10,
                   {s: [0] * 10 for s in ("paid", "expired", "deactivated")})
    assert plan_incremental(shape).full


def test_each_status_a_transaction_may_leave_is_listed_or_fetched_by_id_on_its_own() -> None:
    """Transactions: 10 held pending (PIK lists 2,000: 19 pages beyond the first), 400 held
    confirmed (PIK lists 350: 3 more pages); settled and failed read from their newest end."""
    held = {"pending": 10, "confirmed": 400, "settled": 50_000, "failed": 2_000}
    totals = {"pending": 2_000, "confirmed": 350, "settled": 50_300, "failed": 2_020}
    shape = Shape(total=54_670, totals=totals, known=52_410, held=held,
                  open=("pending", "confirmed"), shares=TEN_CUTS,
                  after={"settled": [30 * i for i in range(1, 11)],
                         "failed": [2 * i for i in range(1, 11)]},
                  orders={"settled": Order.NEWEST, "failed": Order.OLDEST})
    plan = plan_incremental(shape)
    assert plan.open == {"pending": "by id", "confirmed": "list"}
    assert plan.final == {"settled": "top", "failed": "top"}
    assert not plan.full
    assert "(pending by id, confirmed list, settled top, failed top)" in plan.describe()


def test_top_cost_takes_the_cheapest_cut() -> None:
    # 100 gained: a fifth expected among the newest 200 links held, 80% among the newest
    # 5,000, all among 9,000. Cheapest: down to the second cut (51 pages, the first page
    # already read) and the 20 beyond it by id
    assert top_cost(100, [0.2, 0.8, 1.0], [200, 5_000, 9_000]) == 50 + 20
    assert top_cost(3, [0.5, 1.0], [10_000, 20_000]) == 3  # three fetches beat any page
    assert top_cost(0, [], []) == 0


def test_verdicts_say_what_was_counted() -> None:
    assert verified_verdict(Proof(5_120, 5_120), observed=5_000, resource=LINKS) == (
        "verified: all 5,120 links PIK counts are accounted for (5,000 observed in this sync, "
        "120 held in a final status)")
    assert gap_verdict(Proof(5_120, 5_110), "the request budget of 162 requests is spent",
                       LINKS) == (
        "not verified: the request budget of 162 requests is spent; PIK counts 5,120 links, "
        "5,110 are accounted for (10 missing)")
    assert "PIK may have deleted links" in gap_verdict(Proof(10, 12), "x", LINKS)
    assert gap_verdict(Proof(40, 37), "x", TRANSACTIONS) == (
        "not verified: x; PIK counts 40 transactions, 37 are accounted for (3 missing)")
    assert Proof(3, 3).holds and not Proof(3, 2).holds and Proof(3, 4).surplus == 1
    moved, text = moved_note({"active": 5, "paid": 9}, {"active": 7, "paid": 6}, {}, LINKS)
    assert moved == 3 and text.startswith("3 links under another status at PIK than in the "
                                         "warehouse")
    # quarantined records PIK lists are neither held nor moved: said apart
    moved, text = moved_note({"active": 5, "paid": 9}, {"active": 5, "paid": 7},
                             {"paid": 1}, LINKS)
    assert (moved, text) == (1, "1 link PIK lists (1 paid) not held: malformed, quarantined "
                             "instead (the `quarantine` table says why); 1 link under another "
                             "status at PIK than in the warehouse (changed or appeared while "
                             "the sync ran, or not read); the next sync reads them")
    assert moved_note({"paid": 2}, {"paid": 2}, {"paid": 0}, LINKS) == (
        0, "the warehouse's count per status equals PIK's totals")


@pytest.mark.parametrize(("setting", "minimum", "budget"), [
    ("3x", 54, 162), ("2.5x", 55, 138), ("1x", 4, 4), ("20000", 54, 20_000)])
def test_the_request_budget_is_a_multiple_of_the_minimum_or_a_count(
        setting: str, minimum: int, budget: int) -> None:
    assert request_budget(setting, minimum) == budget


@pytest.mark.parametrize("value", ["0.5x", "x", "3", -1, 0, 2.5, "lots", True])
def test_a_bad_request_budget_names_the_key_and_what_is_allowed(value: object) -> None:
    with pytest.raises(ConfigError, match=r"\[sync\] request_budget = .*expected a multiple"):
        load_config(env={}, overrides={"sync": {"request_budget": value}})

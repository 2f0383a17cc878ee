"""The sandbox's transactions speak PIK's documented API over a real loopback socket."""

from __future__ import annotations

import itertools
import json
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from pik_recon.errors import InputError
from pik_recon.sandbox.payments import generate_attempts, generate_transactions
from pik_recon.sandbox.seed import seed_from_file
from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from tests.conftest import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def api(sandbox: SandboxServer) -> httpx.Client:
    with httpx.Client(base_url=sandbox.base_url, headers=AUTH, timeout=30) as client:
        yield client


@pytest.fixture
def quiet(sandbox_state: SandboxState) -> SandboxState:
    """The sandbox with its drift off (links and transactions), for tests of paging itself."""
    sandbox_state.faults.drift_per_request = 0
    return sandbox_state


def _seed(state: SandboxState, links: int) -> None:
    with state.lock:
        generate_links(state, links)
        generate_transactions(state, state.links.values())


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _all_pages(api: httpx.Client, **params: object) -> tuple[list[dict], set[int]]:
    """Every page of a filtered list: the records and the totals the pages gave."""
    records, totals, offset = [], set(), 0
    while True:
        body = api.get("/transactions", params={"limit": 100, "offset": offset, **params})
        assert body.status_code == 200, body.text
        page = body.json()
        records += page["data"]
        totals.add(page["total"])
        offset += 100
        if offset >= page["total"]:
            return records, totals


def _stored(state: SandboxState) -> list[dict]:
    with state.lock:
        return [t.as_dict() for t in state.transactions.by_id.values()]


def _admin(sandbox: SandboxServer, path: str, body: dict | None = None) -> httpx.Response:
    return httpx.post(f"{sandbox.admin_url}/{path}", json=body or {})


def test_a_transaction_has_the_documented_shape_and_is_fetched_by_id(
        api: httpx.Client, sandbox: SandboxServer, quiet: SandboxState) -> None:
    link = api.post("/payment-links", json={"amount": "75", "currency": "USDT"}).json()
    pending = _admin(sandbox, "transactions", {"payment_link_id": link["id"],
                                               "amount": "75.00", "status": "pending"})
    assert pending.status_code == 201
    shown = api.get(f"/transactions/{pending.json()['id']}").json()
    assert shown == pending.json()
    assert shown["id"].startswith("txn_")
    assert (shown["amount"], shown["currency"], shown["status"]) == ("75.00", "USDT", "pending")
    assert (shown["confirmed_at"], shown["settled_at"]) == (None, None)
    assert "tx_hash" not in shown  # only once confirmed
    assert api.get(f"/payment-links/{link['id']}").json()["status"] == "active"

    confirmed = _admin(sandbox, f"transactions/{shown['id']}/confirm").json()
    assert confirmed["status"] == "confirmed"
    assert confirmed["tx_hash"].startswith("0x") and len(confirmed["tx_hash"]) == 66
    paid = api.get(f"/payment-links/{link['id']}").json()
    assert (paid["status"], paid["paid_at"]) == ("paid", confirmed["confirmed_at"])
    assert api.get("/transactions", params={"payment_link_id": link["id"]}).json() == {
        "data": [confirmed], "total": 1, "limit": 20, "offset": 0}
    missing = api.get("/transactions/txn_nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found",
                                        "message": "No transaction with that id."}}


def test_money_on_links_follows_the_readme(api: httpx.Client, sandbox: SandboxServer,
                                           quiet: SandboxState) -> None:
    ids = [api.post("/payment-links", json={"amount": "70.00", "currency": "USDT"}).json()["id"]
           for _ in range(3)]

    def pay(link_id: str, amount: str) -> None:
        assert _admin(sandbox, "transactions", {"payment_link_id": link_id,
                                                "amount": amount}).status_code == 201

    def status(link_id: str) -> str:
        return api.get(f"/payment-links/{link_id}").json()["status"]

    pay(ids[0], "30.00")
    assert status(ids[0]) == "active"  # a short payment leaves the link waiting
    pay(ids[0], "40.00")
    assert status(ids[0]) == "paid"  # the rest arrives: covered
    pay(ids[1], "70.01")
    assert status(ids[1]) == "paid"
    _admin(sandbox, f"links/{ids[2]}/expire")
    pay(ids[2], "70.00")
    assert status(ids[2]) == "expired"  # money on an ended link does not revive it
    assert api.get("/transactions", params={"payment_link_id": ids[2]}).json()["total"] == 1


@pytest.mark.parametrize("params", [
    {}, {"status": "settled"}, {"status": "failed"}, {"status": "pending"},
    {"currency": "BTC"}, {"currency": "USDT", "status": "confirmed"},
])
def test_filters_paging_and_totals_on_a_quiet_list(api: httpx.Client, quiet: SandboxState,
                                                    params: dict) -> None:
    _seed(quiet, 3_000)
    expected = {t["id"] for t in _stored(quiet)
                if all(t[name] == value for name, value in params.items())}
    assert expected  # the filter selects something

    records, totals = _all_pages(api, **params)

    assert totals == {len(expected)}
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected


def test_from_and_to_are_inclusive_bounds_on_created_at(api: httpx.Client,
                                                         quiet: SandboxState) -> None:
    _seed(quiet, 2_000)
    stored = sorted(_stored(quiet), key=lambda t: _when(t["created_at"]))
    low, high = stored[100]["created_at"], stored[-100]["created_at"]
    expected = {t["id"] for t in stored if _when(low) <= _when(t["created_at"]) <= _when(high)}
    records, totals = _all_pages(api, **{"from": low, "to": high})
    assert totals == {len(expected)}
    assert {r["id"] for r in records} == expected
    assert {low, high} <= {r["created_at"] for r in records}  # both ends included

    one = api.get("/transactions", params={"from": low, "to": low}).json()
    assert [r["id"] for r in one["data"]] == [stored[100]["id"]]
    offset = _when(low).astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    assert api.get("/transactions", params={"from": offset, "to": offset}).json()["total"] == 1
    since = api.get("/transactions", params={"from": high}).json()["total"]
    assert since == sum(_when(t["created_at"]) >= _when(high) for t in stored)
    until = api.get("/transactions", params={"to": low, "status": "settled"}).json()["total"]
    assert until == sum(_when(t["created_at"]) <= _when(low) and t["status"] == "settled"
                        for t in stored)


def test_the_transactions_of_one_link(api: httpx.Client, sandbox: SandboxServer,
                                      quiet: SandboxState) -> None:
    _seed(quiet, 1_000)
    twice = httpx.get(f"{sandbox.admin_url}/transactions/cases").json()["twice"]
    assert twice
    listed = api.get("/transactions", params={"payment_link_id": twice[0]}).json()
    assert listed["total"] == 2
    assert {r["payment_link_id"] for r in listed["data"]} == {twice[0]}
    assert api.get("/transactions", params={"payment_link_id": "pl_none"}).json()["total"] == 0


@pytest.mark.parametrize(("ordering", "key", "descending"), [
    ("newest", "created_at", True), ("oldest", "created_at", False), ("id", "id", False)])
def test_orderings(api: httpx.Client, sandbox: SandboxServer, quiet: SandboxState,
                   ordering: str, key: str, descending: bool) -> None:
    _seed(quiet, 1_500)
    assert _admin(sandbox, "config", {"ordering": ordering}).status_code == 200
    for params in ({}, {"status": "settled"}, {"from": "2000-01-01T00:00:00Z"}):
        records, _ = _all_pages(api, **params)
        values = [_when(r[key]) if key == "created_at" else r[key] for r in records]
        assert len(values) > 500
        assert values == sorted(values, reverse=descending)


def test_transactions_can_have_an_ordering_of_their_own(api: httpx.Client,
                                                        sandbox: SandboxServer,
                                                        quiet: SandboxState) -> None:
    _seed(quiet, 500)
    _admin(sandbox, "config", {"tx_ordering": "id"})
    ids = [r["id"] for r in api.get("/transactions", params={"limit": 100}).json()["data"]]
    links = api.get("/payment-links", params={"limit": 100}).json()["data"]
    assert ids == sorted(ids)
    created = [_when(link["created_at"]) for link in links]
    assert created == sorted(created, reverse=True)  # the links stay newest first


def test_a_shuffled_list_is_a_new_order_for_every_request(
        api: httpx.Client, sandbox: SandboxServer, quiet: SandboxState) -> None:
    _seed(quiet, 1_000)
    _admin(sandbox, "config", {"ordering": "shuffled"})
    firsts = [tuple(r["id"] for r in api.get("/transactions", params={"limit": 50}).json()
                    ["data"]) for _ in range(5)]
    assert len(set(firsts)) == 5
    assert all(len(page) == 50 for page in firsts)


def test_hidden_transactions_are_counted_in_totals_but_on_no_page(
        api: httpx.Client, sandbox: SandboxServer, quiet: SandboxState) -> None:
    _seed(quiet, 1_000)
    assert _admin(sandbox, "config", {"hidden_transactions": 4}).status_code == 200
    records, totals = _all_pages(api)
    stored = {t["id"] for t in _stored(quiet)}
    assert totals == {len(stored)}
    hidden = stored - {r["id"] for r in records}
    assert len(records) == len(stored) - 4
    assert len(hidden) == 4
    assert all(api.get(f"/transactions/{i}").status_code == 200 for i in hidden)


@pytest.mark.parametrize(("params", "named"), [
    ({"status": "refunded"}, "'status'"), ({"limit": 0}, "'limit'"), ({"limit": 101}, "'limit'"),
    ({"limit": "x"}, "'limit'"), ({"offset": -1}, "'offset'"), ({"currency": "XYZ"}, "'currency'"),
    ({"from": "yesterday"}, "'from'"), ({"to": "2026-13-01"}, "'to'"),
    ({"from": "2026-11-02", "to": "2026-11-01"}, "'from'"),
])
def test_bad_parameters_are_400_naming_the_parameter(api: httpx.Client, params: dict,
                                                     named: str) -> None:
    response = api.get("/transactions", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert named in response.json()["error"]["message"]


def test_auth_rate_limits_and_faults_apply(api: httpx.Client, sandbox: SandboxServer,
                                           sandbox_state: SandboxState) -> None:
    refused = httpx.get(f"{sandbox.base_url}/transactions", headers={"Authorization": "Bearer x"})
    assert refused.status_code == 401
    assert httpx.get(f"{sandbox.base_url}/transactions/txn_x").status_code == 401
    sandbox_state.faults.rate_limit_enabled = True
    sandbox_state.faults.rate_limit_per_minute = 4
    codes = [api.get("/transactions").status_code for _ in range(3)]
    codes += [api.get("/payment-links").status_code for _ in range(2)]
    assert codes == [200, 200, 200, 200, 429]  # one general bucket for both lists
    sandbox_state.faults.rate_limit_enabled = False
    sandbox_state.faults.rate, sandbox_state.faults.kinds = 1.0, ("500_html",)
    assert api.get("/transactions").status_code == 502


def test_drift_changes_the_transactions_before_every_list_request_and_never_stops(
        api: httpx.Client, sandbox_state: SandboxState) -> None:
    _seed(sandbox_state, 500)
    sandbox_state.faults.drift_per_request = 3
    before = {t["id"]: t["status"] for t in _stored(sandbox_state)}
    tops = [[(r["id"], r["status"]) for r in api.get("/transactions", params={"limit": 100})
             .json()["data"]] for _ in range(40)]
    after = {t["id"]: t["status"] for t in _stored(sandbox_state)}

    assert sandbox_state.transactions.drift_changes == 3 * 40
    assert sum(a != b for a, b in itertools.pairwise(tops)) >= 30
    new = [i for i in after if i not in before]
    assert len(new) >= 20  # customers started paying
    assert sum(after[i] != "pending" for i in new) >= 10  # and their payments moved on
    final = {i: s for i, s in before.items() if s in ("settled", "failed")}
    assert len(final) > 300
    assert all(after[i] == s for i, s in final.items())  # final ones never move


def test_under_drift_the_unfiltered_total_and_the_final_lists_only_grow(
        api: httpx.Client, sandbox_state: SandboxState) -> None:
    """What a sync's proof may rest on, while the list never holds still."""
    _seed(sandbox_state, 1_000)
    sandbox_state.faults.drift_per_request = 5
    settled_at_start = {t["id"] for t in _stored(sandbox_state) if t["status"] == "settled"}
    totals: dict[str, list[int]] = {"all": [], "settled": [], "failed": [], "pending": []}
    for _ in range(30):
        for name in totals:
            params = {} if name == "all" else {"status": name}
            totals[name].append(api.get("/transactions", params=params).json()["total"])
    seen, _ = _all_pages(api, status="settled")

    for name in ("all", "settled", "failed"):
        assert totals[name] == sorted(totals[name]), name
        assert totals[name][-1] > totals[name][0], name
    assert len(set(totals["pending"])) > 1  # it moves both ways
    assert settled_at_start <= {r["id"] for r in seen}  # a pass over a growing list skips none


def test_settlement_comes_after_the_delay_on_the_sandbox_clock(
        api: httpx.Client, sandbox: SandboxServer, quiet: SandboxState) -> None:
    _admin(sandbox, "config", {"settle_delay_seconds": 3600})
    link = api.post("/payment-links", json={"amount": "0.5", "currency": "ETH"}).json()
    txn = _admin(sandbox, "transactions", {"payment_link_id": link["id"],
                                           "amount": "0.5"}).json()
    _admin(sandbox, "clock", {"advance_seconds": 3590})
    assert api.get(f"/transactions/{txn['id']}").json()["status"] == "confirmed"
    _admin(sandbox, "clock", {"advance_seconds": 20})
    settled = api.get(f"/transactions/{txn['id']}").json()
    assert settled["status"] == "settled"
    assert _when(settled["settled_at"]) - _when(settled["confirmed_at"]) == timedelta(hours=1)
    never = _admin(sandbox, "transactions", {"payment_link_id": link["id"], "amount": "0.1",
                                             "never_settles": True}).json()
    _admin(sandbox, "clock", {"advance_seconds": 30 * 86_400})
    assert api.get(f"/transactions/{never['id']}").json()["status"] == "confirmed"


def test_the_generated_mix_holds_what_the_reconciliation_must_find(
        api: httpx.Client, sandbox: SandboxServer, quiet: SandboxState) -> None:
    with quiet.lock:  # few links are active (most expire in three days): more of them pend
        generate_links(quiet, 5_000)
        generate_transactions(quiet, quiet.links.values(), {"pending": 0.3})
    cases = httpx.get(f"{sandbox.admin_url}/transactions/cases").json()

    def of(link_id: str) -> list[dict]:
        return api.get("/transactions", params={"payment_link_id": link_id}).json()["data"]

    def link(link_id: str) -> dict:
        return api.get(f"/payment-links/{link_id}").json()

    money = ("confirmed", "settled")
    for name in ("exact", "over", "twice", "split", "short", "late", "failed", "pending",
                 "unsettled", "no_transaction", "failed_then_paid", "unknown_link"):
        assert len(cases.get(name, [])) >= 3, name
    for link_id in cases["exact"][:5]:
        [txn] = of(link_id)
        assert Decimal(txn["amount"]) == Decimal(link(link_id)["amount"])
    for link_id in cases["over"][:5]:
        assert Decimal(of(link_id)[0]["amount"]) > Decimal(link(link_id)["amount"])
    for link_id in cases["twice"][:5]:
        assert [t["status"] in money for t in of(link_id)] == [True, True]
    for link_id in cases["short"][:5]:
        [txn] = of(link_id)
        assert txn["status"] in money
        assert Decimal(txn["amount"]) < Decimal(link(link_id)["amount"])
        assert link(link_id)["status"] in ("active", "expired")
    for link_id in cases["late"][:5]:
        assert link(link_id)["status"] in ("expired", "deactivated")
        assert of(link_id)[0]["status"] in money
    for link_id in cases["no_transaction"][:5]:
        assert (link(link_id)["status"], of(link_id)) == ("paid", [])
    for link_id in cases["unsettled"][:5]:
        assert of(link_id)[0]["status"] == "confirmed"
    for link_id in cases["pending"][:5]:
        assert [t["status"] for t in of(link_id)] == ["pending"]
    for link_id in cases["unknown_link"][:5]:
        assert api.get(f"/payment-links/{link_id}").status_code == 404
        assert len(of(link_id)) == 1


def test_injected_raw_transactions_are_served_verbatim(api: httpx.Client,
                                                        sandbox: SandboxServer,
                                                        quiet: SandboxState) -> None:
    records = [{"id": "txn_neg", "payment_link_id": "pl_x", "amount": "-7.00",
                "currency": "USDT", "status": "settled"},
               {"id": "txn_exp", "amount": "1e3", "currency": "USDT", "status": "settled"},
               {"amount": "5.00", "currency": "USDT", "status": "refunded"}]
    for record in records:
        assert _admin(sandbox, "inject", {"kind": "transaction", "record": record}
                      ).status_code == 200
    listed = api.get("/transactions", params={"status": "settled"}).json()["data"]
    assert sorted(listed, key=json.dumps) == sorted(records, key=json.dumps)
    assert api.get("/transactions", params={"currency": "USDT"}).json()["total"] == 3


def test_admin_generate_adds_links_with_transactions_or_none(
        sandbox: SandboxServer, quiet: SandboxState) -> None:
    mixed = _admin(sandbox, "generate", {"count": 400, "tx_mix": {"twice": 0.5}}).json()
    assert mixed["transaction_cases"]["twice"] > 100
    before = sum(mixed["transactions"].values())
    bare = _admin(sandbox, "generate", {"count": 400, "tx_mix": "none",
                                        "transactions": 250}).json()
    assert sum(bare["transactions"].values()) == before + 250
    refused = _admin(sandbox, "generate", {"count": 1, "tx_mix": {"twice": 2}})
    assert refused.status_code == 400
    assert _admin(sandbox, "config", {"webhook_lost": 1.5}).status_code == 400
    assert _admin(sandbox, "config", {"tx_ordering": "random"}).status_code == 400


def test_a_seed_file_carries_transactions_beside_its_links(tmp_path: Path) -> None:
    link = {"id": "pl_seed1", "url": "https://pay.pik.global/l/pl_seed1", "amount": "70.00",
            "currency": "USDT", "description": None, "status": "paid",
            "created_at": "2026-11-01T10:00:00Z", "paid_at": "2026-11-01T10:05:00Z"}
    txn = {"id": "txn_seed1", "payment_link_id": "pl_seed1", "amount": "70.00",
           "currency": "USDT", "status": "settled", "tx_hash": "0xab",
           "created_at": "2026-11-01T10:04:00Z", "confirmed_at": "2026-11-01T10:05:00Z",
           "settled_at": "2026-11-01T11:05:00Z"}
    (tmp_path / "links.jsonl").write_text(json.dumps(link) + "\n", encoding="utf-8")
    (tmp_path / "transactions.jsonl").write_text(json.dumps(txn) + "\n", encoding="utf-8")
    state = SandboxState()
    assert seed_from_file(state, tmp_path / "links.jsonl") == 1
    assert [t.as_dict() for t in state.transactions.by_id.values()] == [
        {**txn, "created_at": "2026-11-01T10:04:00.000000Z",
         "confirmed_at": "2026-11-01T10:05:00.000000Z",
         "settled_at": "2026-11-01T11:05:00.000000Z"}]

    bad = {**txn, "id": "txn_seed2", "status": "refunded"}
    (tmp_path / "transactions.jsonl").write_text(
        json.dumps(txn) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    fresh = SandboxState()
    with pytest.raises(InputError, match=r"transactions\.jsonl line 2: 'status' must be one"):
        seed_from_file(fresh, tmp_path / "links.jsonl")
    assert (len(fresh.links), len(fresh.transactions.by_id)) == (0, 0)  # nothing half-way


def _median_page_seconds(api: httpx.Client, params: list[dict]) -> float:
    times = []
    for _ in range(5):
        for extra in params:
            started = time.perf_counter()
            assert api.get("/transactions", params={"limit": 100, **extra}).status_code == 200
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_a_hundred_times_the_transactions_answer_a_page_as_fast(
        api: httpx.Client, sandbox_state: SandboxState) -> None:
    """Paging cost does not grow with the list (the tests' drift stays on): 2,500 then
    250,000 transactions, where a cost that grows with the list would be 100 times the
    first's. `make bench`'s `test_bench_transactions.py` pages through 1,000,000."""
    with sandbox_state.lock:
        generate_links(sandbox_state, 2_000)
        generate_attempts(sandbox_state, 2_500)
    small = _median_page_seconds(api, [{"offset": 2_250}, {"status": "settled", "offset": 1_250},
                                       {"from": "2020-01-01T00:00:00Z", "offset": 1_000}])
    with sandbox_state.lock:
        generate_attempts(sandbox_state, 247_500)
    total = api.get("/transactions").json()["total"]
    large = _median_page_seconds(api, [{"offset": 225_000},
                                       {"status": "settled", "offset": 125_000},
                                       {"from": "2020-01-01T00:00:00Z", "offset": 100_000}])
    assert total >= 250_000
    assert large < max(5 * small, 0.05), (small, large)


def test_sandbox_serve_generates_transactions_and_takes_their_switches() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pik_recon", "sandbox", "serve", "--port", "0", "--generate",
         "300", "--tx-mix", "twice=0.5", "--transactions", "40", "--settle-delay", "5",
         "--webhook-lost", "0.25", "--webhook-clock", "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        admin = re.search(r"admin: (\S+)\)", banner)
        assert admin, banner
        state = httpx.get(f"{admin.group(1)}/state").json()
        assert f"with 300 links and {sum(state['transactions'].values())} transactions" in banner
        assert state["transaction_cases"]["twice"] > 60
        config = state["config"]
        assert (config["settle_delay_seconds"], config["webhook_lost"],
                config["webhook_clock_speed"]) == (5, 0.25, 60)
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_bad_mix_is_exit_2_naming_the_option() -> None:
    done = subprocess.run([sys.executable, "-m", "pik_recon", "sandbox", "serve", "--port", "0",
                           "--generate", "5", "--tx-mix", "twice=0.7,over=0.5"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--tx-mix: the shares of the cases of paid links add up to more than 1" in (
        done.stderr)

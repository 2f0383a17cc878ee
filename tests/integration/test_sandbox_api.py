"""The sandbox speaks PIK's documented API over a real loopback socket."""

from __future__ import annotations

import itertools
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pik_recon.sandbox.server import SandboxServer
from pik_recon.sandbox.state import SandboxState, generate_links
from tests.conftest import API_KEY, pik_recon_cmd

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def api(sandbox: SandboxServer) -> httpx.Client:
    with httpx.Client(base_url=sandbox.base_url, headers=AUTH) as client:
        yield client


@pytest.fixture
def quiet(sandbox_state: SandboxState) -> SandboxState:
    """The sandbox with its drift off, for tests of paging itself."""
    sandbox_state.faults.drift_per_request = 0
    return sandbox_state


def test_auth_is_required(sandbox: SandboxServer) -> None:
    response = httpx.get(f"{sandbox.base_url}/payment-links",
                         headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "unauthorized",
                                         "message": "Missing or invalid API key."}}


def test_create_fetch_and_list_on_a_quiet_list(api: httpx.Client, quiet: SandboxState) -> None:
    created = api.post("/payment-links", json={"amount": "75.00", "currency": "USDT",
                                               "description": "Order #5678"})
    assert created.status_code == 201
    link = created.json()
    assert link["id"].startswith("pl_")
    assert (link["amount"], link["currency"], link["status"]) == ("75.00", "USDT", "active")
    assert link["url"].endswith(link["id"])
    assert link["created_at"].endswith("Z")
    assert api.get(f"/payment-links/{link['id']}").json() == link
    listed = api.get("/payment-links", params={"status": "active"}).json()
    assert listed == {"data": [link], "total": 1, "limit": 20, "offset": 0}
    assert api.get("/payment-links/pl_nope").json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"amount": "abc", "currency": "USDT"}, 422, "unprocessable_entity"),
    ({"amount": "-1", "currency": "USDT"}, 422, "unprocessable_entity"),
    ({"amount": "0.000000001", "currency": "BTC"}, 422, "unprocessable_entity"),
    ({"amount": 5, "currency": "USDT"}, 422, "unprocessable_entity"),
    ({"amount": "5", "currency": "XYZ"}, 422, "unprocessable_entity"),
])
def test_create_validation(api: httpx.Client, body: dict, status: int, code: str) -> None:
    response = api.post("/payment-links", json=body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_bad_json_is_400(api: httpx.Client) -> None:
    response = api.post("/payment-links", content=b"{", headers={"Content-Type":
                                                                  "application/json"})
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid_request",
                                         "message": "body is not valid JSON"}}


@pytest.mark.parametrize("params", [{"limit": 101}, {"limit": 0}, {"offset": -1},
                                    {"status": "refunded"}, {"limit": "x"}])
def test_list_validation(api: httpx.Client, params: dict) -> None:
    response = api.get("/payment-links", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_pagination_of_a_quiet_list_covers_every_link_once(
        api: httpx.Client, quiet: SandboxState) -> None:
    sandbox_state = quiet
    with sandbox_state.lock:
        generate_links(sandbox_state, 1_234)
        sandbox_state.expire_due()
        expected = {s: {link.id for link in sandbox_state.links.values() if link.status == s}
                    for s in ("active", "paid", "expired", "deactivated")}
    for status, ids in expected.items():
        seen, offset = [], 0
        while True:
            body = api.get("/payment-links", params={"status": status, "limit": 100,
                                                     "offset": offset}).json()
            assert body["total"] == len(ids)
            seen += [item["id"] for item in body["data"]]
            offset += 100
            if offset >= body["total"]:
                break
        assert sorted(seen) == sorted(ids)


def test_rate_limit_is_enforced(api: httpx.Client, sandbox_state: SandboxState) -> None:
    sandbox_state.faults.rate_limit_enabled = True
    sandbox_state.faults.rate_limit_per_minute = 5
    codes = [api.get("/payment-links").status_code for _ in range(7)]
    assert codes == [200] * 5 + [429, 429]
    limited = api.get("/payment-links")
    assert int(limited.headers["Retry-After"]) >= 1
    assert sandbox_state.log.limited_429 == 3


def test_admin_pay_expire_and_clock(api: httpx.Client, sandbox: SandboxServer) -> None:
    ids = [api.post("/payment-links", json={"amount": "1", "currency": "USDT"}).json()["id"]
           for _ in range(3)]
    assert httpx.post(f"{sandbox.admin_url}/links/{ids[0]}/pay").json()["status"] == "paid"
    paid = api.get(f"/payment-links/{ids[0]}").json()
    assert "paid_at" in paid
    assert httpx.post(f"{sandbox.admin_url}/links/{ids[1]}/deactivate").status_code == 200
    assert httpx.post(f"{sandbox.admin_url}/links/{ids[1]}/pay").status_code == 422
    moved = httpx.post(f"{sandbox.admin_url}/clock", json={"advance_seconds": 4 * 86_400})
    assert moved.json()["expired"] == 1
    assert api.get(f"/payment-links/{ids[2]}").json()["status"] == "expired"


def test_admin_lose_and_uncount(api: httpx.Client, sandbox: SandboxServer,
                                quiet: SandboxState) -> None:
    ids = [api.post("/payment-links", json={"amount": "1", "currency": "USDT"}).json()["id"]
           for _ in range(3)]
    assert httpx.post(f"{sandbox.admin_url}/links/{ids[0]}/lose").json() == {"lost": ids[0]}
    assert httpx.post(f"{sandbox.admin_url}/links/{ids[1]}/uncount").status_code == 200
    listed = api.get("/payment-links").json()
    assert ([d["id"] for d in listed["data"]], listed["total"]) == ([ids[2]], 1)
    assert api.get(f"/payment-links/{ids[0]}").status_code == 404
    assert api.get(f"/payment-links/{ids[1]}").json()["id"] == ids[1]


def test_the_429_faults_retry_after_is_a_switch(api: httpx.Client, sandbox: SandboxServer,
                                                sandbox_state: SandboxState) -> None:
    set_to = httpx.post(f"{sandbox.admin_url}/config",
                        json={"rate": 1.0, "kinds": ["429"], "retry_after_seconds": 86_400})
    assert set_to.status_code == 200
    assert api.get("/payment-links").headers["Retry-After"] == "86400"
    refused = httpx.post(f"{sandbox.admin_url}/config", json={"retry_after_seconds": -1})
    assert refused.status_code == 400
    assert "retry_after_seconds must be a whole number" in refused.text
    assert sandbox_state.faults.retry_after_seconds == 86_400


@pytest.mark.parametrize(("kind", "check"), [
    ("500_html", lambda r: r.status_code == 502 and r.text.startswith("<html>")),
    ("429", lambda r: r.status_code == 429 and "Retry-After" in r.headers),
    ("429_no_retry_after", lambda r: r.status_code == 429 and "Retry-After" not in r.headers),
])
def test_fault_switches(api: httpx.Client, sandbox_state: SandboxState, kind: str,
                        check) -> None:
    sandbox_state.faults.rate = 1.0
    sandbox_state.faults.kinds = (kind,)
    assert check(api.get("/payment-links"))


@pytest.mark.parametrize("kind", ["drop", "lost_response"])
def test_dropped_connections(api: httpx.Client, sandbox_state: SandboxState,
                             kind: str) -> None:
    sandbox_state.faults.rate = 1.0
    sandbox_state.faults.kinds = (kind,)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):  # closed, no answer
        api.post("/payment-links", json={"amount": "1", "currency": "USDT"})
    created = len(sandbox_state.links)
    assert created == (1 if kind == "lost_response" else 0)  # created, the answer lost


def _page(api: httpx.Client, **params: object) -> dict:
    return api.get("/payment-links", params={"limit": 100, **params}).json()


def test_drift_changes_the_list_before_every_list_request_and_never_stops(
        api: httpx.Client, sandbox_state: SandboxState) -> None:
    with sandbox_state.lock:
        generate_links(sandbox_state, 500)
    sandbox_state.faults.drift_per_request = 3
    tops = [[(i["id"], i["status"]) for i in _page(api)["data"]] for _ in range(40)]

    assert sandbox_state.log.drift_changes == 3 * 40
    moved = sum(a != b for a, b in itertools.pairwise(tops))
    assert moved >= 30  # the newest page changed between nearly every two requests
    assert len(sandbox_state.links) > 540  # new links appeared, about half of the changes


def test_a_drift_below_one_is_one_change_every_so_many_requests(
        api: httpx.Client, sandbox_state: SandboxState) -> None:
    sandbox_state.faults.drift_per_request = 0.1
    for _ in range(50):
        _page(api)
    assert sandbox_state.log.drift_changes == 5


def test_the_unfiltered_list_counts_and_pages_every_link(
        api: httpx.Client, quiet: SandboxState) -> None:
    with quiet.lock:
        generate_links(quiet, 250)
        quiet.expire_due()
        ids = set(quiet.links)
    pages = [_page(api, offset=offset) for offset in (0, 100, 200)]
    assert {p["total"] for p in pages} == {250}
    assert sorted(i["id"] for p in pages for i in p["data"]) == sorted(ids)
    assert {i["status"] for p in pages for i in p["data"]} >= {"active", "paid"}


def test_hidden_links_are_counted_in_totals_but_on_no_page(
        api: httpx.Client, quiet: SandboxState) -> None:
    with quiet.lock:
        generate_links(quiet, 250)
        quiet.expire_due()
        quiet.set_hidden(4)
    listed = [i["id"] for offset in (0, 100, 200) for i in _page(api, offset=offset)["data"]]
    paid = [i["id"] for offset in (0, 100, 200)
            for i in _page(api, status="paid", offset=offset)["data"]]

    assert _page(api)["total"] == 250
    assert len(listed) == len(set(listed)) == 246
    assert _page(api, status="paid")["total"] >= len(paid)
    hidden = set(quiet.links) - set(listed)
    assert len(hidden) == 4
    assert all(api.get(f"/payment-links/{i}").status_code == 200 for i in hidden)


def _pik_time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@pytest.mark.parametrize("offset", [-3 * 86_400, -1800, 1800])
def test_the_clock_offset_stamps_links_with_pik_clock_not_ours(api: httpx.Client,
                                                               sandbox: SandboxServer,
                                                               offset: int) -> None:
    assert httpx.post(f"{sandbox.admin_url}/config",
                      json={"clock_offset_seconds": offset}).status_code == 200
    before = datetime.now(UTC)
    link = api.post("/payment-links", json={"amount": "1", "currency": "USDT"}).json()
    paid = httpx.post(f"{sandbox.admin_url}/links/{link['id']}/pay").json()
    after = datetime.now(UTC)
    shift = timedelta(seconds=offset)
    assert before + shift <= _pik_time(link["created_at"]) <= after + shift
    assert before + shift <= _pik_time(paid["paid_at"]) <= after + shift


@pytest.mark.parametrize("value", ["soon", True, 1e12, None])
def test_a_clock_offset_that_is_not_a_number_of_seconds_is_refused(sandbox: SandboxServer,
                                                                   value: object) -> None:
    refused = httpx.post(f"{sandbox.admin_url}/config", json={"clock_offset_seconds": value})
    assert refused.status_code == 400
    assert "the clock offset must be a number of seconds" in refused.json()["error"]["message"]


def test_sandbox_serve_starts_with_pik_clock_behind_ours(tmp_path: Path) -> None:
    proc = subprocess.Popen([*pik_recon_cmd(), "sandbox", "serve", "--port", "0",
                             "--api-key", API_KEY, "--clock-offset", "-259200"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().split()[3]
        before = datetime.now(UTC)
        link = httpx.post(f"{base_url}/payment-links", headers=AUTH,
                          json={"amount": "1", "currency": "USDT"}).json()
        after = datetime.now(UTC)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    three_days = timedelta(days=3)
    assert before - three_days <= _pik_time(link["created_at"]) <= after - three_days


def test_sandbox_serve_refuses_a_clock_offset_that_is_no_time(tmp_path: Path) -> None:
    done = subprocess.run([*pik_recon_cmd(), "sandbox", "serve", "--port", "0",
                           "--clock-offset", "nan"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "--clock-offset" in done.stderr
    assert "the clock offset must be a number of seconds" in done.stderr

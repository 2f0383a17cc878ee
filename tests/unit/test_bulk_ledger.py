"""bulk.create_links against httpx.MockTransport and a real DuckDB file: what the ledger holds
when each POST goes out, and whose retries a 429 gets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import httpx
import pytest

from pik_recon.config import Config, PikSettings, Secret
from pik_recon.creation.bulk import create_links

SETTINGS = PikSettings(base_url="https://api.pik.global/v1", backoff_base_seconds=0.001,
                       backoff_cap_seconds=0.01, max_retries=2, rate_limit_enabled=False)


def _config(tmp_path: Path) -> Config:
    return Config(pik=SETTINGS, db_path=tmp_path / "wh.duckdb", api_key=Secret("k"))


def _rows(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "invoices.csv"
    path.write_text("order_id,amount,currency\n"
                    + "".join(f"A{i},{i + 1}.00,USDT\n" for i in range(count)))
    return path


def _states(out: Path) -> dict[str, str]:
    with out.open(encoding="utf-8", newline="") as fh:
        return {r["order_id"]: r["state"] for r in csv.DictReader(fh)}


@pytest.mark.timeout(60)
def test_a_429_beyond_the_clients_budget_leaves_the_row_pending_after_its_retries_only(
        tmp_path: Path) -> None:
    posts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(json.loads(request.content)["description"])
            return httpx.Response(429, headers={"Retry-After": "0"},
                                  json={"error": {"code": "rate_limited"}})
        return httpx.Response(200, json={"data": [], "total": 0})

    report = create_links(_config(tmp_path), _rows(tmp_path, 2), out=None, dry_run=False,
                          concurrency=1, transport=httpx.MockTransport(handler))

    assert sorted(posts) == ["Order #A0"] * 3 + ["Order #A1"] * 3  # 1 + max_retries each
    assert report.by_state == {"pending": 2}
    assert _states(tmp_path / "invoices-links.csv") == {"A0": "pending", "A1": "pending"}


def test_every_post_goes_out_after_its_row_is_committed_sent_with_a_position_answered_before(
        tmp_path: Path) -> None:
    """The list grows by three links before every answer; at each POST the warehouse (read
    through a connection of its own) must already hold the row `sent` at a total PIK
    answered earlier."""
    config = _config(tmp_path)
    links: list[dict[str, str]] = []
    answered: list[int] = []
    seen: list[tuple[str, int, bool]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        links.extend({"id": f"pl_x{len(links)}", "created_at": "2001-01-01T00:00:00Z"}
                     for _ in range(3))
        if request.method == "GET":
            answered.append(len(links))
            return httpx.Response(200, json={"data": links[::-1][:1], "total": len(links)})
        body = json.loads(request.content)
        con = duckdb.connect(str(config.db_path))  # the same file: its committed rows
        state, position = con.execute(
            "SELECT state, list_position FROM link_requests WHERE description = ?",
            [body["description"]]).fetchone()
        con.close()
        seen.append((state, position, position in answered))
        return httpx.Response(201, json={"id": f"pl_{len(links)}", "url": "https://x",
                                         **body, "created_at": "2001-01-01T00:00:00Z"})

    report = create_links(config, _rows(tmp_path, 40), out=None, dry_run=False,
                          concurrency=2, transport=httpx.MockTransport(handler))

    assert report.by_state == {"created": 40}
    assert len(seen) == 40
    assert {(state, proper) for state, _, proper in seen} == {("sent", True)}
    assert len({position for _, position, _ in seen}) >= 2  # the position follows the list


def test_a_post_that_timed_out_is_not_sent_again_in_the_run_though_the_list_shows_none(
        tmp_path: Path) -> None:
    """PIK acts on a POST after the client gave up waiting for its answer: the list read
    right after shows no link, and the link appears later. The row stays unknown instead of
    being sent a second time; the next run finds its link."""
    links: list[dict[str, str]] = []
    late: list[dict[str, str]] = []
    posts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            answer = {"data": links[::-1][:100], "total": len(links)}
            links.extend(late)  # what PIK was still doing lands after this answer
            late.clear()
            return httpx.Response(200, json=answer)
        body = json.loads(request.content)
        posts.append(body["description"])
        link = {"id": f"pl_{len(links) + len(late)}", "url": "https://x", **body,
                "created_at": f"2001-01-01T00:00:{len(links) + len(late):02d}Z"}
        if len(posts) == 1:
            late.append(link)
            raise httpx.ReadTimeout("no answer in time", request=request)
        links.append(link)
        return httpx.Response(201, json=link)

    config, rows = _config(tmp_path), _rows(tmp_path, 3)
    first = create_links(config, rows, out=None, dry_run=False, concurrency=1,
                         transport=httpx.MockTransport(handler))

    assert first.by_state == {"created": 2, "unknown": 1}
    assert posts == ["Order #A0", "Order #A1", "Order #A2"]  # none sent twice
    again = create_links(config, rows, out=None, dry_run=False, concurrency=1,
                         transport=httpx.MockTransport(handler))
    assert again.by_state == {"exists": 2, "created": 1}  # A0 found on PIK, not sent
    assert len(posts) == 3
    assert sorted(link["description"] for link in links) == [
        "Order #A0", "Order #A1", "Order #A2"]

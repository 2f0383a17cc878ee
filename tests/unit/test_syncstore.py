"""merge_batch on a real DuckDB file: bulk reading, the doubtful few, dedupe, counts, and a
batch of several accounts."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pik_recon.links import parse_link
from pik_recon.sync.merge import Body, merge_batch, stage_path
from pik_recon.sync.resource import LINKS
from pik_recon.sync.store import MEMORY_LIMIT, MergeResult, SyncStore
from pik_recon.warehouse import Warehouse


def _link(link_id: str, status: str, **fields: Any) -> dict[str, Any]:
    return {"id": link_id, "url": f"https://pay.pik.global/l/{link_id}", "amount": "10.50",
            "currency": "USDT", "description": "Order #1", "status": status,
            "created_at": "2026-11-01T08:00:00.123456Z",
            **({"paid_at": "2026-11-01T09:00:00+01:00"} if status == "paid" else {}),
            **fields}


def _body(*records: Any) -> bytes:
    return json.dumps({"data": list(records), "total": len(records)}, indent=1).encode()


@pytest.fixture
def judged() -> list[Any]:
    """The records the merge hands to Python, one by one (the `store`'s parser notes them)."""
    return []


@pytest.fixture
def store(tmp_path: Path, judged: list[Any]) -> SyncStore:
    def spy(record: Any, listed_status: str | None) -> Any:
        judged.append(record)
        return parse_link(record, listed_status)

    warehouse = Warehouse.open(tmp_path / "wh.duckdb", memory_limit=MEMORY_LIMIT)
    store = SyncStore(warehouse, "default", replace(LINKS, parse=spy))
    store.begin_run("full")
    yield store
    warehouse.close()


def _merge(store: SyncStore, bodies: list[Body]) -> MergeResult:
    return merge_batch(store.wh, [(store, body) for body in bodies])[store.run_id]


def _links(store: SyncStore) -> dict[str, tuple]:
    rows = store.wh.fetchall("SELECT id, status, CAST(amount AS VARCHAR), amount_text, "
                             "CAST(paid_at AS VARCHAR), url FROM payment_links")
    return {r[0]: r[1:] for r in rows}


def test_a_final_status_beats_active_and_otherwise_the_latest_wins(
        store: SyncStore, judged: list[Any]) -> None:
    result = _merge(store, [
        ("paid", _body(_link("pl_a", "paid"), _link("pl_b", "active", url="first"))),
        ("active", _body(_link("pl_a", "active"), _link("pl_b", "active", url="second"))),
    ])
    assert (result.new, result.changed, result.quarantined) == (2, 0, 0)
    links = _links(store)
    assert links["pl_a"][0] == "paid"
    assert links["pl_a"][3] == "2026-11-01 08:00:00+00"
    assert links["pl_b"][4] == "second"
    assert not stage_path(store.wh).exists()
    assert judged == []  # valid records never reach Python


def test_escaped_strings_are_read_exactly(store: SyncStore, judged: list[Any]) -> None:
    record = _link("pl_\u00e9", "active", description='Order "#1" \\ caf\u00e9 \U0001f680',
                   url=None)
    _merge(store, [("active", json.dumps({"data": [record]}, ensure_ascii=True).encode())])
    assert store.wh.fetchall("SELECT id, url, description FROM payment_links") == [
        ("pl_\u00e9", None, 'Order "#1" \\ caf\u00e9 \U0001f680')]
    assert judged == []


def test_counts_and_history_across_batches(store: SyncStore) -> None:
    batch = [("active", _body(_link("pl_a", "active"), _link("pl_b", "active")))]
    assert _merge(store, batch).new == 2
    again = _merge(store, batch)
    assert (again.new, again.changed) == (0, 0)
    moved = _merge(store, [("paid", _body(_link("pl_a", "paid")))])
    assert (moved.new, moved.changed) == (0, 1)
    back = _merge(store, [("active", _body(_link("pl_a", "active")))])  # paid is final
    assert (back.new, back.changed) == (0, 0)
    assert _links(store)["pl_a"][0] == "paid"
    history = store.wh.fetchall("SELECT link_id, old_status, new_status FROM "
                                "link_status_history ORDER BY link_id, id")
    assert history == [("pl_a", None, "active"), ("pl_a", "active", "paid"),
                       ("pl_b", None, "active")]


def test_doubtful_records_are_judged_one_by_one(store: SyncStore, judged: list[Any]) -> None:
    result = _merge(store, [("paid", _body(
        _link("pl_fast", "paid"),
        _link("pl_spaced", "paid", amount="12.50", paid_at="2026-11-01 09:00:00+00:00"),
        _link("pl_padded", "paid", amount=" 12.50 "),
        _link("pl_float", "paid", amount=12.5),
        _link("pl_naive", "paid", created_at="2026-11-01T08:00:00"),
        _link("", "paid"),
        _link("pl_long", "active", amount="1." + "0" * 19),
    ))])
    assert (result.new, result.quarantined) == (2, 5)
    assert [r["id"] for r in judged] == ["pl_spaced", "pl_padded", "pl_float", "pl_naive", "",
                                         "pl_long"]
    links = _links(store)
    assert links["pl_spaced"][1:4] == ("12.500000000000000000", "12.50",
                                       "2026-11-01 09:00:00+00")
    assert links["pl_fast"][1] == "10.500000000000000000"
    reasons = {r[0]: r[1] for r in store.wh.fetchall(
        "SELECT link_id, reason FROM quarantine ORDER BY id")}
    assert reasons == {
        "pl_padded": "amount ' 12.50 ' is not a plain positive decimal (digits, optionally a "
                     "point and decimals, e.g. '75.00')",
        "pl_float": "amount must be a decimal string, got float",
        "pl_naive": "created_at '2026-11-01T08:00:00' has no time zone",
        "": "missing id",
        "pl_long": f"amount '1.{'0' * 19}' has more than 18 decimals",
    }


def test_a_batch_the_bulk_reader_refuses_is_read_in_python(store: SyncStore) -> None:
    result = _merge(store, [("paid", _body(_link("pl_ok", "paid"), "not a record", None)),
                          (None, _body(_link("pl_by_id", "expired")))])
    assert (result.new, result.quarantined) == (2, 2)
    assert set(_links(store)) == {"pl_ok", "pl_by_id"}
    reasons = store.wh.fetchall("SELECT DISTINCT reason FROM quarantine")
    assert reasons == [("record is not a JSON object",)]


def test_one_batch_of_several_accounts_keeps_each_link_to_its_account(store: SyncStore) -> None:
    other = SyncStore(store.wh, "brand-b", LINKS)
    other.begin_run("full")
    results = merge_batch(store.wh, [
        (store, ("active", _body(_link("pl_a", "active"), _link("pl_b", "active")))),
        (other, ("paid", _body(_link("pl_a", "paid", amount="99.90")))),
        (other, ("active", _body(_link("pl_a", "active"), {"id": "pl_bad"}))),
        (store, ("paid", _body(_link("pl_b", "paid")))),
    ])
    assert results == {store.run_id: MergeResult(new=2, changed=0, quarantined=0),
                       other.run_id: MergeResult(new=1, changed=0, quarantined=1)}
    rows = store.wh.fetchall("SELECT account, id, status, amount_text, last_seen_run "
                             "FROM payment_links ORDER BY account, id")
    assert rows == [("brand-b", "pl_a", "paid", "99.90", other.run_id),
                    ("default", "pl_a", "active", "10.50", store.run_id),
                    ("default", "pl_b", "paid", "10.50", store.run_id)]
    assert store.wh.fetchall("SELECT account, sync_run_id, link_id FROM quarantine") == [
        ("brand-b", other.run_id, "pl_bad")]
    moved = merge_batch(store.wh, [(other, ("paid", _body(_link("pl_a", "paid", amount="99.90")))),
                                   (store, ("paid", _body(_link("pl_a", "paid"))))])
    assert moved == {other.run_id: MergeResult(new=0, changed=0, quarantined=0),
                     store.run_id: MergeResult(new=0, changed=1, quarantined=0)}
    history = store.wh.fetchall("SELECT account, link_id, old_status, new_status, sync_run_id "
                                "FROM link_status_history ORDER BY account, link_id, id")
    assert history == [("brand-b", "pl_a", None, "paid", other.run_id),
                       ("default", "pl_a", None, "active", store.run_id),
                       ("default", "pl_a", "active", "paid", store.run_id),
                       ("default", "pl_b", None, "paid", store.run_id)]

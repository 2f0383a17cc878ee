"""merge_batch on a real DuckDB file for transactions: the furthest status wins, a stale
sighting changes nothing, malformed records are quarantined as transactions, and a batch may
hold links and transactions of several accounts at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pik_recon.sync.merge import merge_batch
from pik_recon.sync.resource import LINKS, TRANSACTIONS
from pik_recon.sync.store import MEMORY_LIMIT, MergeResult, SyncStore
from pik_recon.warehouse import Warehouse


def _txn(txn_id: str, status: str, **fields: Any) -> dict[str, Any]:
    confirmed = status in ("confirmed", "settled")
    return {"id": txn_id, "payment_link_id": "pl_a", "amount": "10.50", "currency": "USDT",
            "status": status, **({"tx_hash": "0xabc"} if confirmed else {}),
            "created_at": "2026-11-01T08:00:00.123456Z",
            "confirmed_at": "2026-11-01T08:05:00Z" if confirmed else None,
            "settled_at": "2026-11-01T09:05:00Z" if status == "settled" else None, **fields}


def _body(*records: Any) -> bytes:
    return json.dumps({"data": list(records), "total": len(records)}).encode()


@pytest.fixture
def store(tmp_path: Path) -> SyncStore:
    warehouse = Warehouse.open(tmp_path / "wh.duckdb", memory_limit=MEMORY_LIMIT)
    store = SyncStore(warehouse, "default", TRANSACTIONS)
    store.begin_run("full")
    yield store
    warehouse.close()


def _merge(store: SyncStore, *bodies: tuple[str | None, bytes]) -> MergeResult:
    return merge_batch(store.wh, [(store, body) for body in bodies])[store.run_id]


def _held(store: SyncStore) -> dict[str, tuple]:
    rows = store.wh.fetchall(
        "SELECT id, status, tx_hash, CAST(confirmed_at AS VARCHAR), CAST(settled_at AS VARCHAR),"
        " CAST(amount AS VARCHAR) FROM transactions")
    return {r[0]: r[1:] for r in rows}


def test_the_furthest_status_wins_in_a_batch_and_a_stale_sighting_changes_nothing(
        store: SyncStore) -> None:
    first = _merge(store, ("settled", _body(_txn("txn_a", "settled"))),
                   ("pending", _body(_txn("txn_a", "pending"), _txn("txn_b", "pending"))),
                   ("confirmed", _body(_txn("txn_b", "confirmed"))))
    assert (first.new, first.changed, first.quarantined) == (2, 0, 0)
    held = _held(store)
    assert held["txn_a"] == ("settled", "0xabc", "2026-11-01 08:05:00+00",
                             "2026-11-01 09:05:00+00", "10.500000000000000000")
    assert held["txn_b"][0:2] == ("confirmed", "0xabc")

    stale = _merge(store, ("pending", _body(_txn("txn_b", "pending"))),
                   (None, _body(_txn("txn_a", "confirmed"))))
    assert (stale.new, stale.changed) == (0, 0)
    assert _held(store) == held  # status, hash and times as held: none goes back

    on = _merge(store, ("failed", _body(_txn("txn_c", "failed"))),
                ("settled", _body(_txn("txn_b", "settled"))))
    assert (on.new, on.changed) == (1, 1)
    history = store.wh.fetchall("SELECT transaction_id, old_status, new_status, sync_run_id "
                                "FROM transaction_status_history ORDER BY transaction_id, id")
    assert history == [("txn_a", None, "settled", store.run_id),
                       ("txn_b", None, "confirmed", store.run_id),
                       ("txn_b", "confirmed", "settled", store.run_id),
                       ("txn_c", None, "failed", store.run_id)]
    assert store.wh.fetchall("SELECT count(*) FROM link_status_history") == [(0,)]


def test_malformed_transactions_are_quarantined_as_transactions(store: SyncStore) -> None:
    result = _merge(store, ("settled", _body(
        _txn("txn_ok", "settled"),
        _txn("pl_not_a_txn", "settled"),
        _txn("txn_neg", "settled", amount="-1.00"),
        _txn("txn_naive", "settled", created_at="2026-11-01T08:00:00"),
        {"status": "settled", "amount": "1"},
    )))
    assert (result.new, result.quarantined) == (1, 4)
    rows = store.wh.fetchall("SELECT resource, listed_status, transaction_id, link_id, reason "
                             "FROM quarantine")
    assert sorted(rows, key=str) == sorted([
        ("transactions", "settled", "pl_not_a_txn", None,
         "id 'pl_not_a_txn' is not a transaction's (txn_...)"),
        ("transactions", "settled", "txn_neg", None,
         "amount '-1.00' is not a plain positive decimal (digits, optionally a point and "
         "decimals, e.g. '75.00')"),
        ("transactions", "settled", "txn_naive", None,
         "created_at '2026-11-01T08:00:00' has no time zone"),
        ("transactions", "settled", None, None, "missing id"),
    ], key=str)
    assert store.accounted(include_final=False) == 5  # each counted once by the proof


def test_one_batch_of_links_and_transactions_of_two_accounts(store: SyncStore) -> None:
    links = SyncStore(store.wh, "brand-b", LINKS)
    links.begin_run("full")
    link = {"id": "pl_a", "amount": "10.50", "currency": "USDT", "status": "paid",
            "created_at": "2026-11-01T08:00:00Z", "paid_at": "2026-11-01T08:05:00Z"}
    results = merge_batch(store.wh, [
        (store, ("settled", _body(_txn("txn_a", "settled")))),
        (links, ("paid", _body(link, {"id": "pl_bad"}))),
        (store, ("pending", _body(_txn("txn_b", "pending")))),
    ])
    assert results == {store.run_id: MergeResult(2, 0, 0), links.run_id: MergeResult(1, 0, 1)}
    assert store.wh.fetchall("SELECT account, id FROM transactions ORDER BY id") == [
        ("default", "txn_a"), ("default", "txn_b")]
    assert store.wh.fetchall("SELECT account, id FROM payment_links") == [("brand-b", "pl_a")]
    assert store.wh.fetchall("SELECT resource, account, link_id, transaction_id FROM "
                             "quarantine") == [("links", "brand-b", "pl_bad", None)]

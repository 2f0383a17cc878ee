"""TEMPORARY, until `pik-recon sync` fills `transactions`: PIK's transactions into the
warehouse, read over HTTP from GET /transactions pages, as a test's stand-in for the
transactions sync (built apart; at its merge this module goes and the tests run the sync).

It reads a quiet list only (no proof of completeness: the sandbox a test runs it against
must hold still) and marks every transaction first and last seen now, by the account's last
sync run, as a sync would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx

COLUMNS = ("id", "payment_link_id", "amount", "currency", "status", "tx_hash", "created_at",
           "confirmed_at", "settled_at")


def fetch_transactions(base_url: str, api_key: str) -> list[dict[str, object]]:
    """Every transaction GET /transactions lists, 100 a page."""
    found: list[dict[str, object]] = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"},
                      timeout=30) as client:
        while True:
            page = client.get("/transactions", params={"limit": 100, "offset": len(found)})
            page.raise_for_status()
            body = page.json()
            found += body["data"]
            if not body["data"] or len(found) >= body["total"]:
                return found


def load_transactions(db: Path, base_url: str, api_key: str, account: str = "default") -> int:
    """Replace the account's transactions in the warehouse with PIK's; how many."""
    rows = fetch_transactions(base_url, api_key)
    now = datetime.now(UTC)
    con = duckdb.connect(str(db))
    try:
        run = con.execute("SELECT max(id) FROM sync_runs WHERE account = ?",
                          [account]).fetchone()[0]
        con.execute("DELETE FROM transactions WHERE account = ?", [account])
        con.executemany(
            "INSERT INTO transactions (account, id, payment_link_id, amount, amount_text, "
            "currency, status, tx_hash, created_at, confirmed_at, settled_at, first_seen_at, "
            "last_seen_at, last_seen_run) VALUES (?, ?, ?, CAST(? AS DECIMAL(38, 18)), ?, ?, "
            "?, ?, CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), ?, "
            "?, ?)",
            [[account, r["id"], r["payment_link_id"], r["amount"], r["amount"], r["currency"],
              r["status"], r.get("tx_hash"), r["created_at"], r["confirmed_at"],
              r["settled_at"], now, now, run] for r in rows])
    finally:
        con.close()
    return len(rows)

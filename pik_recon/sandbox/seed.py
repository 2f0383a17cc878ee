"""Seeding the sandbox from files: JSON lines of links, and of their transactions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pik_recon.errors import InputError
from pik_recon.sandbox.payments import transaction_from_record
from pik_recon.sandbox.state import SandboxState, load_links
from pik_recon.sandbox.transactions import Transaction
from pik_recon.warehouse import resource_dir

SAMPLE_LINKS = "links.jsonl"
TRANSACTIONS = "transactions.jsonl"  # beside a links file, its links' transactions


def sample_links_path() -> Path:
    return resource_dir("sample_data") / SAMPLE_LINKS


def _records(path: Path) -> list[tuple[int, Any]]:
    records = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                records.append((line_no, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InputError(f"{path} line {line_no}: not JSON ({exc.msg})") from None
    return records


def _transactions(path: Path) -> list[Transaction]:
    found = []
    for line_no, record in _records(path):
        try:
            found.append(transaction_from_record(record))
        except ValueError as exc:
            raise InputError(f"{path} line {line_no}: {exc}") from None
    return found


def seed_from_file(state: SandboxState, path: Path) -> int:
    """Load links from a JSON-lines file, and their transactions from transactions.jsonl
    beside it when there is one; returns how many links. A file with a bad transaction
    loads nothing."""
    records = [record for _, record in _records(path)]
    beside = path.with_name(TRANSACTIONS)
    transactions = _transactions(beside) if beside.is_file() else []
    with state.lock:
        load_links(state, records)
        state.transactions.add_many(transactions)
    return len(records)

"""Seeding the sandbox from files: JSON lines of links in the API's own shape."""

from __future__ import annotations

import json
from pathlib import Path

from pik_recon.errors import InputError
from pik_recon.sandbox.state import SandboxState, load_links
from pik_recon.warehouse import resource_dir

SAMPLE_LINKS = "links.jsonl"


def sample_links_path() -> Path:
    return resource_dir("sample_data") / SAMPLE_LINKS


def seed_from_file(state: SandboxState, path: Path) -> int:
    """Load links from a JSON-lines file; returns how many."""
    records = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{path} line {line_no}: not JSON ({exc.msg})") from None
    with state.lock:
        load_links(state, records)
    return len(records)


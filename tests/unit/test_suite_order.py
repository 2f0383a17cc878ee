"""The files `make test` starts first are files of the suite: a renamed one would silently
fall back to its alphabetical place."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LONGEST_FILES


def test_the_files_started_first_exist() -> None:
    integration = Path(__file__).resolve().parents[1] / "integration"
    assert len(set(LONGEST_FILES)) == len(LONGEST_FILES)
    assert [name for name in LONGEST_FILES if not (integration / name).is_file()] == []

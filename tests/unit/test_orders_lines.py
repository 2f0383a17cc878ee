"""orders._scan: the fast count of an export's rows agrees with splitting it by line, however
the file is read in blocks, and its digest is the whole file's."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

from pik_recon.orders import _scan


def split_count(data: bytes) -> int:
    """The definition: split at line feeds, drop the one empty piece after a final line feed;
    any line with nothing but carriage returns is blank (-1); else the lines after the header."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    if any(not line.strip(b"\r") for line in lines):
        return -1
    return len(lines) - 1


def test_every_short_file_counts_as_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    checked = 0
    # Six bytes span two blocks of three: every placement of a line feed, a carriage return
    # and a cell against a block's end, for each block size below, is among them.
    for length in range(7):
        for cells in itertools.product((b"a", b",", b"\n", b"\r"), repeat=length):
            data = b"".join(cells)
            path.write_bytes(data)
            for block in (1, 2, 3, 1 << 20):
                assert _scan(path, block) == (hashlib.sha256(data).hexdigest(),
                                              split_count(data)), (data, block)
            checked += 1
    assert checked == sum(4 ** n for n in range(7))


def test_known_shapes(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    for data, rows in ((b"h\n1\n2\n", 2), (b"h\r\n1\r\n2", 2), (b"h\n1\n\n2\n", -1),
                       (b"h\r\n1\r\n\r\n", -1), (b"h\n", 0), (b"", -1), (b"h\n1\n\n", -1)):
        path.write_bytes(data)
        for block in (1, 2, 1 << 20):
            assert _scan(path, block)[1] == rows, (data, block)

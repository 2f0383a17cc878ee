"""The file-system boundary: every errno the table names becomes the error with its exit code
and a message naming the path, for Python's OSError and for DuckDB's I/O errors alike."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import duckdb
import pytest

from pik_recon.errors import FileError, NoSpaceError, UsageError
from pik_recon.paths import OS_ERRORS, path_error, writing
from pik_recon.warehouse import _translate

# What each errno must mean to the user, written out by hand: the table is checked against it,
# so an entry added without a line here fails.
EXPECTED = {
    errno.EACCES: (UsageError, 2, "permission denied"),
    errno.EPERM: (UsageError, 2, "operation not permitted"),
    errno.EROFS: (UsageError, 2, "the file system is read-only"),
    errno.ENOSPC: (NoSpaceError, 4, "no space left on the device"),
    errno.EDQUOT: (NoSpaceError, 4, "the disk quota is used up"),
    errno.ENOENT: (UsageError, 2, "no such file or folder"),
    errno.ENOTDIR: (UsageError, 2, "a part of the path is a file"),
    errno.EISDIR: (UsageError, 2, "it is a folder"),
    errno.ENAMETOOLONG: (UsageError, 2, "the name is too long"),
}
OUT = Path("/data/reports/2026-11")
FILE = OUT / ".report-x1" / "report.xlsx"


def test_the_table_names_exactly_the_errnos_expected() -> None:
    assert set(OS_ERRORS) == set(EXPECTED)


@pytest.mark.parametrize("number", sorted(EXPECTED), ids=errno.errorcode.get)
def test_every_errno_of_the_table_is_mapped_and_names_the_path(number: int) -> None:
    kind, code, words = EXPECTED[number]
    error = path_error(OSError(number, os.strerror(number), str(FILE)), OUT, "--out")
    assert type(error) is kind
    assert error.exit_code == code
    assert str(error).startswith(f"--out {OUT}: cannot write {FILE}: {words}")
    assert "Errno" not in str(error)


@pytest.mark.parametrize("number", sorted(EXPECTED), ids=errno.errorcode.get)
def test_duckdbs_io_errors_go_through_the_same_table(number: int) -> None:
    """DuckDB quotes the system's message; the file it names is named too."""
    kind, code, words = EXPECTED[number]
    wal = "/srv/pik/wh.duckdb.wal"
    raised = duckdb.IOException(f'IO Error: Could not write file "{wal}": '
                                f"{os.strerror(number)}")
    error = _translate(raised, Path("/srv/pik/wh.duckdb"))
    assert type(error) is kind
    assert error.exit_code == code
    assert str(error).startswith(f"warehouse /srv/pik/wh.duckdb: cannot write {wal}: {words}")


def test_duckdbs_parquet_writer_error_names_the_folder_and_the_file() -> None:
    """The text of a COPY ... TO into a full disk, as DuckDB 1.x words it (JSON inside)."""
    text = ('IO Error: Async write failed for range [offset=0, size=27]: {"exception_type":'
            '"IO","exception_message":"Could not write file \\"/x/export/.export-1/'
            'orders/data_0.parquet\\": No space left on device","errno":"28"}')
    error = _translate(duckdb.IOException(text), Path("/x/export"), "the export folder")
    assert isinstance(error, NoSpaceError)
    assert str(error).startswith("the export folder /x/export: cannot write "
                                 "/x/export/.export-1/orders/data_0.parquet: no space left")


def test_an_errno_the_table_does_not_name_is_a_clear_file_error() -> None:
    error = path_error(OSError(errno.EIO, os.strerror(errno.EIO)), OUT, "--out")
    assert type(error) is FileError
    assert error.exit_code == 5
    assert str(error) == f"--out {OUT}: cannot write: {os.strerror(errno.EIO)}"


def test_writing_turns_an_oserror_into_the_error_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(NoSpaceError) as caught, writing(tmp_path, "the export folder"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "a.parquet"))
    assert str(caught.value).startswith(f"the export folder {tmp_path}: cannot write "
                                        f"{tmp_path / 'a.parquet'}: no space left")
    assert caught.value.transient

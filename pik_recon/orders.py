"""`pik-recon orders load`: read a shop's orders export into the warehouse, exactly.

The CSV is read as text only (DuckDB's strict reader, every cell a string, nothing inferred);
the typing — amounts text → DECIMAL, shop times in their zone → UTC — is SQL in
sql/queries/orders_normalize.sql. A file the fast parser refuses is read again with Python's
csv module, which names the line of every row it cannot use.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pik_recon.config import DEFAULT_ACCOUNT, REQUIRED_ORDER_FIELDS, OrdersSettings
from pik_recon.errors import InputError, WarehouseError
from pik_recon.logs import get_logger
from pik_recon.warehouse import Warehouse, listed, query

log = get_logger("orders")
csv.field_size_limit(1 << 30)
REJECT_COLUMNS = (("account", "VARCHAR"), ("import_id", "BIGINT"), ("file", "VARCHAR"),
                  ("line", "INTEGER"), ("column_name", "VARCHAR"), ("value", "VARCHAR"),
                  ("reason", "VARCHAR"))
RAW_FIELDS = ("order_id", "amount", "currency", "status", "created_at", "link_id",
              "payment_method", "filter_value")


@dataclass(frozen=True)
class Reject:
    line: int
    column: str | None
    value: str | None
    reason: str


@dataclass(frozen=True)
class LoadResult:
    import_id: int | None
    file: str
    rows_read: int
    loaded: int
    filtered: int
    rejected: int
    rejects: list[Reject]
    already_loaded: bool = False
    hints: list[str] = field(default_factory=list)  # settings that would read the rejects


# What most rejected values look like, and the [orders] setting that reads them.
_DECIMAL_COMMA = re.compile(r"\D{0,4}\d+,\d+\D{0,4}")
_DOTTED_THOUSANDS = re.compile(r"\D{0,4}\d{1,3}(\.\d{3})+,\d+\D{0,4}")
_COMMA_THOUSANDS = re.compile(r"\D{0,4}\d{1,3}(,\d{3})+(\.\d+)?\D{0,4}")
_DATE_HINTS = (
    (re.compile(r"\d{1,2}\.\d{1,2}\.\d{4} \d{1,2}:\d{2}"), '"%d.%m.%Y %H:%M"'),
    (re.compile(r"\d{1,2}\.\d{1,2}\.\d{4}"), '"%d.%m.%Y"'),
    (re.compile(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}"),
     '"%d/%m/%Y %H:%M" (or "%m/%d/%Y %H:%M" for US dates)'),
    (re.compile(r"\d{1,2}/\d{1,2}/\d{4}"), '"%d/%m/%Y" (or "%m/%d/%Y" for US dates)'),
    (re.compile(r"\d{4}-\d{2}-\d{2} \d{1,2}:\d{2}(:\d{2})?"), '"%Y-%m-%d %H:%M:%S"'),
)


def _most(values: list[str], *patterns: re.Pattern[str]) -> list[str]:
    """The values any pattern reads, if they are more than half."""
    read = [v for v in values if any(p.fullmatch(v.strip()) for p in patterns)]
    return read if len(read) * 2 > len(values) else []


def _amount_hint(column: str, values: list[str]) -> str | None:
    advice = "set {} under [orders] in pik-recon.toml, then load the file again"
    if comma := _most(values, _DECIMAL_COMMA, _DOTTED_THOUSANDS):
        dotted = [v for v in comma if _DOTTED_THOUSANDS.fullmatch(v.strip())]
        setting = ('decimal_separator = "," and thousands_separator = "."' if dotted
                   else 'decimal_separator = ","')
        example = (dotted or comma)[0]
        return (f"most amounts in column '{column}' have a decimal comma ({example!r}): "
                + advice.format(setting))
    if grouped := _most(values, _COMMA_THOUSANDS):
        return (f"most amounts in column '{column}' group thousands with a comma "
                f"({grouped[0]!r}): " + advice.format('thousands_separator = ","'))
    return None


def _time_hint(column: str, values: list[str]) -> str | None:
    for pattern, date_format in _DATE_HINTS:
        if read := _most(values, pattern):
            return (f"most times in column '{column}' look like {read[0]!r}: set date_format "
                    f"= {date_format} under [orders] in pik-recon.toml, then load the file "
                    "again")
    return None


def setting_hints(rejects: list[Reject], rows: int, columns: dict[str, str]) -> list[str]:
    """When most rows were rejected for a reason an [orders] setting fixes, which one."""
    hints = []
    for field_name, hint in (("amount", _amount_hint), ("created_at", _time_hint)):
        column = columns.get(field_name, field_name)
        values = [r.value or "" for r in rejects if r.column == column]
        if rows and len(values) * 2 > rows and (found := hint(column, values)):
            hints.append(found)
    return hints


def mapping_digest(settings: OrdersSettings) -> str:
    """The identity of the mapping an export is read with (with the file's, the import's)."""
    return hashlib.sha256(json.dumps(dataclasses.asdict(settings), sort_keys=True)
                          .encode()).hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _delimiter(path: Path, settings: OrdersSettings) -> str:
    if settings.delimiter != "auto":
        return "\t" if settings.delimiter == "\\t" else settings.delimiter
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        sample = fh.read(64 * 1024)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _number_pattern(settings: OrdersSettings) -> tuple[str, str]:
    dec = re.escape(settings.decimal_separator)
    if settings.thousands_separator:
        sep = re.escape(settings.thousands_separator)
        example = f"1{settings.thousands_separator}234{settings.decimal_separator}50"
        return rf"(\d{{1,3}}({sep}\d{{3}})+|\d+)({dec}\d+)?", example
    return rf"\d+({dec}\d+)?", f"1234{settings.decimal_separator}50"


def _time_example(settings: OrdersSettings) -> str:
    if settings.date_format:
        return datetime(2026, 11, 24, 8, 30).strftime(settings.date_format)
    return "2026-11-24T08:30:00+01:00"


@dataclass(frozen=True)
class _Raw:
    """The export staged as text (temp table csv_cells): its header, structural rejects, the
    rows staged, and where each row's place is: columns rec and line, or (in_file_order) its
    rowid."""

    header: list[str]
    rejects: list[Reject]
    rows: int
    in_file_order: bool = False


def _header(path: Path, delimiter: str) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return next(csv.reader(fh, delimiter=delimiter), [])
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                         "export the orders as UTF-8") from None
    except csv.Error as exc:
        raise InputError(f"{path}: the header is not readable as CSV ({exc})") from None


def _lines_exact(path: Path, delimiter: str) -> tuple[list[str], list[list[str]], list[int],
                                                      list[Reject]]:
    """Python's csv module: slow, exact about lines, never gives up on a row silently."""
    rows, lines, rejects = [], [], []
    with path.open(encoding="utf-8-sig", errors="strict", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            return [], [], [], []
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                rejects.append(Reject(start, None, None, f"not readable as CSV: {exc}"))
                break
            if len(row) != len(header) and any(cell.strip() for cell in row):
                rejects.append(Reject(start, None, None, f"has {len(row)} cells, the header "
                                                         f"has {len(header)}"))
            elif any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(start)
            start = reader.line_num + 1
    return header, rows, lines, rejects


def read_export(warehouse: Warehouse, path: Path, settings: OrdersSettings) -> _Raw:
    """Stage the file as text cells in the temp table `csv_cells` (c0..cN, then rec and line
    unless the rows are in file order, one per line).

    DuckDB's strict reader first; a file it refuses (a broken quote, a row with too many
    cells, a blank line) is read by Python's csv module, which names every bad line.
    """
    delimiter = _delimiter(path, settings)
    header = _header(path, delimiter)
    if not header:
        raise InputError(f"{path}: the file is empty; expected a header row")
    names = [f"c{i}" for i in range(len(header))]
    columns = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"
    try:
        # DuckDB keeps the file's row order (preserve_insertion_order), so a row's rowid is
        # its place among the file's rows
        warehouse.execute(
            "CREATE OR REPLACE TEMP TABLE csv_cells AS SELECT * FROM read_csv($path, "
            f"header = true, auto_detect = false, columns = {columns}, delim = $delim, "
            "quote = '\"', escape = '\"', strict_mode = true, encoding = 'utf-8')",
            {"path": str(path), "delim": delimiter})
        rows = warehouse.fetchone("SELECT count(*) FROM csv_cells")
        count = int(rows[0]) if rows else 0
        if _plain_lines(path) == count:
            return _Raw(header, [], count, in_file_order=True)
        _, _, lines, rejects = _lines_exact(path, delimiter)
        if rejects or len(lines) != count:
            raise WarehouseError("the two CSV readers disagree")
        warehouse.temp_table("csv_lines", [("rec", "INTEGER"), ("line", "INTEGER")],
                             list(enumerate(lines)))
        warehouse.execute("CREATE OR REPLACE TEMP TABLE csv_cells AS SELECT c.*, l.line "
                          "FROM (SELECT *, CAST(rowid AS INTEGER) AS rec FROM csv_cells) AS c "
                          "JOIN csv_lines AS l USING (rec); DROP TABLE csv_lines")
        return _Raw(header, [], count)
    except WarehouseError:
        header, cells, lines, rejects = _lines_exact(path, delimiter)
        warehouse.temp_table("csv_cells", [*((n, "VARCHAR") for n in names),
                                           ("rec", "INTEGER"), ("line", "INTEGER")],
                             [(*row, rec, line) for rec, (row, line)
                              in enumerate(zip(cells, lines, strict=True))])
        return _Raw(header, rejects, len(cells))


def _plain_lines(path: Path) -> int:
    """Data rows if every line is one row (no quoted line breaks, no blank lines), else -1."""
    data = path.read_bytes()
    body = data[:-1] if data.endswith(b"\n") else data
    # A blank line (nothing, or only carriage returns) starts at the file's start or after a
    # line feed, and ends at a line feed or the end; when none can, the line feeds count.
    if (body[:1] not in (b"", b"\r", b"\n") and not body.endswith(b"\n")
            and b"\n\n" not in body and b"\n\r" not in body):
        return body.count(b"\n")
    lines = body.split(b"\n")
    if any(not line.strip(b"\r") for line in lines):
        return -1
    return len(lines) - 1


def _stage(warehouse: Warehouse, raw: _Raw, settings: OrdersSettings, path: Path) -> None:
    """Name the mapped columns: temp view orders_raw(rec, line, <RAW_FIELDS>)."""
    columns = dict(settings.columns)
    missing = [f"{field} (column '{columns.get(field, field)}')"
               for field in REQUIRED_ORDER_FIELDS if columns.get(field) not in raw.header]
    if settings.filter_column and settings.filter_column not in raw.header:
        missing.append(f"filter (column '{settings.filter_column}')")
    if missing:
        found = ", ".join(f"'{h}'" for h in raw.header) or "none"
        raise InputError(f"{path}: the orders mapping names columns the file does not have: "
                         f"{'; '.join(missing)}. Columns found: {found}. Set them under "
                         "[orders.columns] in pik-recon.toml.")
    sources = {**columns, "filter_value": settings.filter_column}
    position = {name: i for i, name in reversed(list(enumerate(raw.header)))}
    picks = [f"c{position[sources[f]]}" if sources.get(f) in position else "NULL"
             for f in RAW_FIELDS]
    place = ("CAST(rowid AS INTEGER) AS rec, CAST(rowid + 2 AS INTEGER) AS line"
             if raw.in_file_order else "rec, line")
    warehouse.execute(f"CREATE OR REPLACE TEMP VIEW orders_raw AS SELECT {place}, "
                      + ", ".join(f"{pick} AS {field}" for pick, field in
                                  zip(picks, RAW_FIELDS, strict=True))
                      + " FROM csv_cells")


def load_orders(warehouse: Warehouse, path: Path, settings: OrdersSettings,
                now: datetime | None = None, *, account: str = DEFAULT_ACCOUNT) -> LoadResult:
    """Import one export of `account`'s orders in one transaction; the same file twice is a
    no-op."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    digest, mapping = _sha256(path), mapping_digest(settings)
    seen = warehouse.fetchone("SELECT id FROM order_imports WHERE account = ? AND "
                              "file_sha256 = ? AND mapping_sha256 = ?",
                              [account, digest, mapping])
    if seen is not None:
        return LoadResult(int(seen[0]), str(path), 0, 0, 0, 0, [], already_loaded=True)
    pattern, number_example = _number_pattern(settings)
    status_map = [(k.strip().lower(), v) for k, v in settings.status_map]
    params: dict[str, Any] = {
        "number_pattern": pattern, "thousands": settings.thousands_separator or "\x00",
        "decimal": settings.decimal_separator, "use_date_format": bool(settings.date_format),
        "date_format": settings.date_format or "%Y-%m-%d",
        "timezone": settings.timezone, "line_items": settings.line_items,
        "filter_values": [v.strip().lower() for v in settings.filter_values],
        "number_example": number_example, "time_example": _time_example(settings),
        "status_values": ", ".join(repr(k) for k, _ in settings.status_map)}
    exported_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    raw = read_export(warehouse, path, settings)  # temp tables: outside the transaction
    _stage(warehouse, raw, settings, path)
    with warehouse.transaction():
        warehouse.temp_table("status_map", [("shop_value", "VARCHAR"), ("status", "VARCHAR")],
                             status_map)
        warehouse.execute(query("orders_normalize"), params)
        if not settings.line_items:
            warehouse.execute(query("orders_duplicates"))
        import_id = warehouse.next_id("order_imports_seq")
        rejects = raw.rejects + _value_rejects(warehouse, settings)
        warehouse.execute(query("orders_replace"), {"exported_at": exported_at,
                                                    "account": account})
        warehouse.execute(query("orders_merge"), {"import_id": import_id, "account": account,
                                                  "exported_at": exported_at})
        counted = warehouse.fetchone(
            "SELECT count(*) FILTER (WHERE bad_field IS NULL AND NOT filtered_out), "
            "count(*) FILTER (WHERE filtered_out) FROM orders_parsed")
        assert counted is not None
        rows_read = raw.rows + len(raw.rejects)
        result = LoadResult(import_id, str(path), rows_read, int(counted[0]),
                            int(counted[1]), len(rejects), rejects,
                            hints=setting_hints(rejects, rows_read, dict(settings.columns)))
        if rejects and not result.loaded and not result.filtered:
            raise _nothing_readable(path, result)
        _record_import(warehouse, account, result, (digest, mapping), exported_at,
                       now or datetime.now(UTC))
        warehouse.execute("DROP TABLE orders_parsed; DROP VIEW orders_raw; "
                          "DROP TABLE csv_cells; DROP TABLE status_map")
    return result


def _nothing_readable(path: Path, result: LoadResult) -> InputError:
    """Every row rejected: the mapping is wrong, not the rows; nothing is stored."""
    shown = [f"{path} line {r.line}" + (f", column '{r.column}'" if r.column else "")
             + (f": {r.value!r}" if r.value is not None else "") + f": {r.reason}"
             for r in result.rejects[:5]]
    advice = (" " + " ".join(f"Hint: {h}." for h in result.hints) if result.hints
              else " Check the [orders] mapping in pik-recon.toml.")
    return InputError(f"{path}: none of its {result.rows_read} rows could be read; nothing was "
                      f"loaded.{advice}", shown)


def _value_rejects(warehouse: Warehouse, settings: OrdersSettings) -> list[Reject]:
    columns = dict(settings.columns)
    rows = warehouse.fetchall(
        "SELECT line, bad_field, CASE bad_field WHEN 'order_id' THEN order_id "
        "WHEN 'amount' THEN amount_text WHEN 'currency' THEN currency_text "
        "WHEN 'status' THEN shop_status ELSE created_text END, reason "
        "FROM orders_parsed WHERE bad_field IS NOT NULL ORDER BY line")
    return [Reject(int(line), columns.get(field, field), value, reason)
            for line, field, value, reason in rows]


def _record_import(warehouse: Warehouse, account: str, result: LoadResult,
                   digests: tuple[str, str], exported_at: datetime, loaded_at: datetime
                   ) -> None:
    warehouse.execute(
        "INSERT INTO order_imports (id, account, file, file_sha256, mapping_sha256, "
        "exported_at, loaded_at, rows_read, orders_loaded, rows_filtered, rows_rejected) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [result.import_id, account, result.file, *digests, exported_at, loaded_at,
         result.rows_read, result.loaded, result.filtered, result.rejected])
    if result.rejects:
        select, lists = listed(REJECT_COLUMNS, [
            (account, result.import_id, result.file, r.line, r.column, r.value, r.reason)
            for r in result.rejects])
        warehouse.execute(f"INSERT INTO order_rejects BY NAME {select}", lists)

"""`pik-recon orders load`: read a shop's orders export into the warehouse, exactly.

The CSV is read as text only (DuckDB's strict reader, every cell a string, nothing inferred);
the typing — amounts text → DECIMAL in the one number format decided first (number_format),
shop times in their zone → UTC — is SQL in sql/queries/orders_normalize.sql. A file the fast
parser refuses is read again with Python's csv module, which names the line of every row it
cannot use. Nothing is stored until the whole file is read and its rejects are few enough.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import re
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pik_recon import number_format
from pik_recon.config import DEFAULT_ACCOUNT, OrdersSettings
from pik_recon.config_values import REQUIRED_ORDER_FIELDS
from pik_recon.errors import InputError, WarehouseError
from pik_recon.logs import get_logger
from pik_recon.warehouse import Warehouse, listed, query

log = get_logger("orders")
csv.field_size_limit(1 << 30)
REJECT_COLUMNS = (("account", "VARCHAR"), ("import_id", "BIGINT"), ("file", "VARCHAR"),
                  ("line", "INTEGER"), ("column_name", "VARCHAR"), ("value", "VARCHAR"),
                  ("reason", "VARCHAR"), ("order_id", "VARCHAR"))
RAW_FIELDS = ("order_id", "amount", "currency", "status", "created_at", "link_id",
              "payment_method", "filter_value")


@dataclass(frozen=True)
class Reject:
    line: int
    column: str | None
    value: str | None
    reason: str
    order_id: str | None = None  # the row's, when it had one


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
    read_as: str = ""  # the number format the amounts were read in
    # of `loaded`, orders a newer export (by file time) holds already: it stays, this one not
    superseded: int = 0


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
    """The identity of the mapping an export is read with (with the file's, the import's);
    max_rejected_share says whether to load, not how rows read."""
    mapping = dataclasses.asdict(settings)
    del mapping["max_rejected_share"]
    return hashlib.sha256(json.dumps(mapping, sort_keys=True).encode()).hexdigest()


def _delimiter(path: Path, settings: OrdersSettings) -> str:
    if settings.delimiter != "auto":
        return "\t" if settings.delimiter == "\\t" else settings.delimiter
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        sample = fh.read(64 * 1024)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


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
                # past a quote never closed no row can be told from the next: refused whole,
                # so no row after it is dropped unnamed
                raise InputError(f"{path} line {start}: not readable as CSV ({exc}); from "
                                 "there to the end of the file no row can be told apart (a "
                                 "quote opened and never closed?); nothing was loaded. Fix "
                                 "the export and load it again.") from None
            if len(row) != len(header) and any(cell.strip() for cell in row):
                rejects.append(Reject(start, None, None, f"has {len(row)} cells, the header "
                                                         f"has {len(header)}"))
            elif any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(start)
            start = reader.line_num + 1
    return header, rows, lines, rejects


def read_export(warehouse: Warehouse, path: Path, settings: OrdersSettings,
                scanned: Future[tuple[str, int]]) -> _Raw:
    """Stage the file as text cells in the temp table `csv_cells` (c0..cN, then rec and line
    unless the rows are in file order, one per line: as `scanned`, _scan running beside the
    staging, counts).

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
        if scanned.result()[1] == count:
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


def _scan(path: Path, chunk: int = 1 << 20) -> tuple[str, int]:
    """The file's SHA-256, and its data rows if every line is one row (no quoted line
    breaks, no blank lines), else -1: one read of the file, a second only when a line may
    be blank."""
    digest = hashlib.sha256()
    feeds, first, last, blank = 0, b"", b"", False
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
            # a blank line (nothing, or only carriage returns) starts at the file's start or
            # after a line feed; when none can, the line feeds count
            blank = (blank or last + block[:1] in (b"\n\n", b"\n\r") or b"\n\n" in block
                     or b"\n\r" in block)
            feeds += block.count(b"\n")
            first, last = first or block[:1], block[-1:]
    if first not in (b"", b"\r", b"\n") and not blank:
        return digest.hexdigest(), feeds - (last == b"\n")
    return digest.hexdigest(), _split_lines(path.read_bytes())


def _split_lines(data: bytes) -> int:
    """Data rows, or -1 if a line is blank: the exact count, by splitting the file."""
    body = data[:-1] if data.endswith(b"\n") else data
    lines = body.split(b"\n")
    if any(not line.strip(b"\r") for line in lines):
        return -1
    return len(lines) - 1


def _stage_orders(warehouse: Warehouse, raw: _Raw, settings: OrdersSettings, path: Path
                  ) -> None:
    """Name the mapped columns: temp views orders_raw(rec, line, <RAW_FIELDS>) and
    orders_cells (with each amount's number_text)."""
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
    twice = [f"'{name}' (columns "
             f"{', '.join(str(i + 1) for i, h in enumerate(raw.header) if h == name)})"
             for name in dict.fromkeys(v for v in sources.values() if v)
             if raw.header.count(name) > 1]
    if twice:
        raise InputError(f"{path}: the header names a mapped column more than once: "
                         f"{'; '.join(twice)}; either could hold the values, so nothing was "
                         "loaded. Rename one in the export, or map [orders.columns] to another.")
    position = {name: i for i, name in enumerate(raw.header)}
    picks = [f"c{position[sources[f]]}" if sources.get(f) in position else "NULL"
             for f in RAW_FIELDS]
    place = ("CAST(rowid AS INTEGER) AS rec, CAST(rowid + 2 AS INTEGER) AS line"
             if raw.in_file_order else "rec, line")
    warehouse.execute(f"CREATE OR REPLACE TEMP VIEW orders_raw AS SELECT {place}, "
                      + ", ".join(f"{pick} AS {field}" for pick, field in
                                  zip(picks, RAW_FIELDS, strict=True))
                      + " FROM csv_cells")
    warehouse.execute(query("orders_cells"))


def load_orders(warehouse: Warehouse, path: Path, settings: OrdersSettings,
                now: datetime | None = None, *, account: str = DEFAULT_ACCOUNT) -> LoadResult:
    """Import one export of `account`'s orders in one transaction, read in one number
    format; the import the account holds last, loaded again, is a no-op.

    Refused (InputError, nothing stored) when the number format cannot be decided, or more
    than `max_rejected_share` of the rows is rejected.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    mapping = mapping_digest(settings)
    exported_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    # the file's digest and line count are read on a thread of their own while DuckDB stages
    # it (both release the GIL); temp tables, outside the transaction: dropped whatever happens
    with ThreadPoolExecutor(max_workers=1) as pool:
        scanned = pool.submit(_scan, path)
        try:
            raw = read_export(warehouse, path, settings, scanned)
            digest = scanned.result()[0]
            latest = warehouse.fetchone("SELECT id, file_sha256, mapping_sha256 FROM "
                                        "order_imports WHERE account = ? ORDER BY id DESC "
                                        "LIMIT 1", [account])
            if latest is not None and tuple(latest[1:]) == (digest, mapping):
                return LoadResult(int(latest[0]), str(path), 0, 0, 0, 0, [],
                                  already_loaded=True)
            return _load(warehouse, path, settings, raw, (digest, mapping), exported_at,
                         now, account)
        finally:
            warehouse.execute("DROP TABLE IF EXISTS orders_parsed; DROP TABLE IF EXISTS "
                              "status_map; DROP VIEW IF EXISTS orders_cells; DROP VIEW IF "
                              "EXISTS orders_raw; DROP TABLE IF EXISTS csv_cells")


def _load(warehouse: Warehouse, path: Path, settings: OrdersSettings, raw: _Raw,
          digests: tuple[str, str], exported_at: datetime, now: datetime | None, account: str
          ) -> LoadResult:
    """Type the staged export, and store it in one transaction unless it is refused."""
    _stage_orders(warehouse, raw, settings, path)
    read_as = number_format.decide(warehouse, path, settings)
    result = _parse(warehouse, raw, read_as, path)
    _refuse_too_many_rejects(path, result, settings)
    held = warehouse.fetchone("SELECT count(*) FROM orders WHERE account = ?", [account])
    result = _without_orders(path, result, settings, int(held[0]) if held else 0)
    with warehouse.transaction():
        result = dataclasses.replace(result, import_id=warehouse.next_id("order_imports_seq"))
        warehouse.execute(query("orders_replace"), {"exported_at": exported_at,
                                                    "account": account})
        # the rows it inserts: the readable ones but those a newer export holds
        inserted = warehouse.fetchone(query("orders_merge"), {"import_id": result.import_id,
                                                              "account": account,
                                                              "exported_at": exported_at})
        result = dataclasses.replace(
            result, superseded=result.loaded - (int(inserted[0]) if inserted else 0))
        _record_import(warehouse, account, result, digests, exported_at,
                       now or datetime.now(UTC))
    return result


def _parse(warehouse: Warehouse, raw: _Raw, settings: OrdersSettings, path: Path
           ) -> LoadResult:
    """Type the staged rows (temp table orders_parsed) in the decided format; the outcome
    before anything is stored (no import id yet)."""
    pattern, number_example = number_format.number_pattern(settings)
    status_map = [(k.strip().lower(), v) for k, v in settings.status_map]
    warehouse.temp_table("status_map", [("shop_value", "VARCHAR"), ("status", "VARCHAR")],
                         status_map)
    warehouse.execute(query("orders_normalize"), {
        "number_pattern": pattern, "thousands": settings.thousands_separator or "\x00",
        "decimal": settings.decimal_separator, "use_date_format": bool(settings.date_format),
        "date_format": settings.date_format or "%Y-%m-%d",
        # a format with %z or %Z reads each time's own offset: none is applied again
        "timezone": "UTC" if _zoned(settings.date_format) else settings.timezone,
        "line_items": settings.line_items,
        "filter_values": [v.strip().lower() for v in settings.filter_values],
        "number_example": number_example, "time_example": _time_example(settings),
        "status_values": ", ".join(repr(k) for k, _ in settings.status_map)})
    if not settings.line_items:
        warehouse.execute(query("orders_duplicates"))
    rejects = raw.rejects + _value_rejects(warehouse, settings)
    counted = warehouse.fetchone(
        "SELECT count(*) FILTER (WHERE bad_field IS NULL AND NOT filtered_out), "
        "count(*) FILTER (WHERE filtered_out) FROM orders_parsed")
    assert counted is not None
    rows_read = raw.rows + len(raw.rejects)
    return LoadResult(None, str(path), rows_read, int(counted[0]), int(counted[1]),
                      len(rejects), rejects,
                      hints=setting_hints(rejects, rows_read, dict(settings.columns)),
                      read_as=number_format.describe(settings))


def _zoned(date_format: str | None) -> bool:
    """The format reads an offset or zone name from each time."""
    return bool(date_format) and ("%z" in date_format or "%Z" in date_format)


def _refuse_too_many_rejects(path: Path, result: LoadResult, settings: OrdersSettings
                             ) -> None:
    """More than max_rejected_share of the rows rejected: the mapping or the export is
    wrong, not a few rows; nothing is stored (a share below 1 refuses a file no row of
    which reads)."""
    if not result.rejects or (result.rejected <= settings.max_rejected_share
                              * result.rows_read):
        return
    shown = [_where(path, r) for r in result.rejects[:5]]
    (column, reason), count = Counter((r.column, r.reason) for r in result.rejects
                                      ).most_common(1)[0]
    where = f", column '{column}'" if column else ""
    share = f"{result.rejected / result.rows_read:.1%}"
    advice = (" " + " ".join(f"Hint: {h}." for h in result.hints) if result.hints else
              " Check the [orders] mapping in pik-recon.toml, or, if these rows are really "
              "unreadable, raise max_rejected_share under [orders] to load the rest and see "
              "the rejected rows as findings.")
    raise InputError(f"{path}: {result.rejected} of its {result.rows_read} rows ({share}) "
                     f"could not be read, more than max_rejected_share = "
                     f"{settings.max_rejected_share} allows; nothing was loaded. The most "
                     f"common reason ({count} of them{where}): {reason}.{advice}", shown)


def _without_orders(path: Path, result: LoadResult, settings: OrdersSettings, held: int
                    ) -> LoadResult:
    """An export with no order in it (a header only, or every row left out by the filter).
    It changes no order, and is a quiet day's window when the account holds orders already:
    it loads, saying so. Into an account holding none it would leave every payment link
    without its order, which is far more often an export or a filter gone wrong: refused."""
    if result.loaded:
        return result
    why = "it holds a header and no rows"
    if result.rows_read:  # all filtered out: a file no row of which reads was refused above
        why = (f"the filter (filter_column = {settings.filter_column!r}, filter_values = "
               f"{list(settings.filter_values)}) leaves out {result.filtered} of its "
               f"{result.rows_read} rows" + (f", and the other {result.rejected} could not "
                                            "be read" if result.rejected else ""))
    if held:
        return dataclasses.replace(result, hints=[
            *result.hints, f"no order in this export: {why}; the {held} orders loaded before "
            "stay current"])
    raise InputError(f"{path}: no order to load: {why}. The account holds no orders yet, so "
                     "every payment link would read as having none; nothing was loaded. "
                     "Check that the shop exported its orders, and the [orders] filter in "
                     "pik-recon.toml.")


def _where(path: Path, reject: Reject) -> str:
    return (f"{path} line {reject.line}" + (f", column '{reject.column}'" if reject.column
                                             else "")
            + (f": {reject.value!r}" if reject.value is not None else "")
            + f": {reject.reason}")


def _value_rejects(warehouse: Warehouse, settings: OrdersSettings) -> list[Reject]:
    columns = dict(settings.columns)
    rows = warehouse.fetchall(
        "SELECT line, bad_field, CASE bad_field WHEN 'order_id' THEN order_id "
        "WHEN 'amount' THEN amount_text WHEN 'currency' THEN currency_text "
        "WHEN 'status' THEN shop_status ELSE created_text END, reason, nullif(order_id, '') "
        "FROM orders_parsed WHERE bad_field IS NOT NULL ORDER BY line")
    return [Reject(int(line), columns.get(field, field), value, reason, order_id)
            for line, field, value, reason, order_id in rows]


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
            (account, result.import_id, result.file, r.line, r.column, r.value, r.reason,
             r.order_id) for r in result.rejects])
        warehouse.execute(f"INSERT INTO order_rejects BY NAME {select}", lists)

"""The one number format an orders export is read with, decided before any row is stored.

A configured `decimal_separator` is obeyed. Under `"auto"` two readings compete: a decimal
point with `,` between thousands, and a decimal comma with `.` between thousands (a
configured `thousands_separator` replaces the inferred mark in both; `.` or `,` there leaves
one reading). Each amount fits one reading only (it proves that format: `0.5`, `1,234.50`;
`0,5`, `1.234,50`), fits both with one value (`75`: it proves nothing), or fits both with
two values (`23.033`, `1,234`: ambiguous, never guessed). The counting is SQL
(sql/queries/orders_number_format.sql).
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from pathlib import Path

from pik_recon.config import OrdersSettings
from pik_recon.errors import InputError
from pik_recon.warehouse import Warehouse, query

_SET_IT = ("set decimal_separator = \".\" or \",\" (with thousands_separator, if the file "
           "groups thousands) under [orders] in pik-recon.toml, then load the file again")


def number_pattern(settings: OrdersSettings) -> tuple[str, str]:
    """The regex a number of this (decided) format matches, and an example of one."""
    dec = re.escape(settings.decimal_separator)
    if settings.thousands_separator:
        sep = re.escape(settings.thousands_separator)
        example = f"1{settings.thousands_separator}234{settings.decimal_separator}50"
        return rf"(\d{{1,3}}({sep}\d{{3}})+|\d+)({dec}\d+)?", example
    return rf"\d+({dec}\d+)?", f"1234{settings.decimal_separator}50"


def readings(settings: OrdersSettings) -> list[OrdersSettings]:
    """The formats the export may be read with: the configured one, or under "auto" a
    decimal point and a decimal comma (whichever the thousands mark leaves)."""
    if settings.decimal_separator != "auto":
        return [settings]
    mark = settings.thousands_separator
    point = dataclasses.replace(settings, decimal_separator=".", thousands_separator=mark or ",")
    comma = dataclasses.replace(settings, decimal_separator=",", thousands_separator=mark or ".")
    return [r for r in (point, comma) if r.thousands_separator != r.decimal_separator]


def describe(settings: OrdersSettings) -> str:
    """How amounts were read, for the user: 'a decimal comma and '.' between thousands'."""
    mark = "point" if settings.decimal_separator == "." else "comma"
    grouped = (f" and {settings.thousands_separator!r} between thousands"
               if settings.thousands_separator else "")
    return f"a decimal {mark}{grouped}"


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def decide(warehouse: Warehouse, path: Path, settings: OrdersSettings) -> OrdersSettings:
    """The format to read the staged export (orders_cells) with; InputError when its amounts
    prove both formats, or one reads as two amounts and nothing in the file settles which."""
    choices = readings(settings)
    if len(choices) == 1:
        return choices[0]
    point, comma = choices
    params: dict[str, str] = {}
    for name, reading in (("point", point), ("comma", comma)):
        params[f"{name}_pattern"] = number_pattern(reading)[0]
        params[f"{name}_thousands"] = reading.thousands_separator
    found = {kind: rest for kind, *rest in
             warehouse.fetchall(query("orders_number_format"), params)}
    column = settings.column("amount") or "amount"
    if "point" in found and "comma" in found:
        _, p_line, p_cell, _, _ = found["point"]
        _, c_line, c_cell, _, _ = found["comma"]
        raise InputError(
            f"{path}: the amounts in column '{column}' are written in two number formats: "
            f"line {p_line} {p_cell!r} has a decimal point, line {c_line} {c_cell!r} a "
            f"decimal comma; nothing was loaded. Export the file in one format, or {_SET_IT}.")
    if "point" in found:
        return point
    if "comma" in found:
        return comma
    if "ambiguous" in found:
        count, line, cell, as_point, as_comma = found["ambiguous"]
        raise InputError(
            f"{path} line {line}, column '{column}': {cell!r} is {_plain(as_point)} with a "
            f"decimal point and {_plain(as_comma)} with a decimal comma, and no amount in the "
            f"file settles which ({count} {'amount reads' if count == 1 else 'amounts read'} "
            f"two ways); nothing was loaded. To read it, {_SET_IT}.")
    return point  # every amount reads the same under both

"""The checks of single config values: each takes where the value stands ("pik",
"accounts.brand-a.orders") and the value as TOML gave it, and returns the setting or raises a
ConfigError naming the key, what was wrong and what is accepted. config.py gathers every one
that fails."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pik_recon.errors import ConfigError

T = TypeVar("T")


class Problems:
    """Every mistake found in one settings file (`where`; None: the settings of options and
    environment alone), refused together: one ConfigError (exit 2) listing them all."""

    def __init__(self, where: str | None) -> None:
        self.where = where
        self.found: list[str] = []

    def add(self, problem: str) -> None:
        if problem not in self.found:
            self.found.append(problem)

    def extend(self, problems: Iterable[str]) -> None:
        for problem in problems:
            self.add(problem)

    def check(self, check: Callable[..., T], *args: Any, fallback: T) -> T:
        """check(*args), or `fallback` once the ConfigError it raised is noted."""
        try:
            return check(*args)
        except ConfigError as exc:
            self.add(str(exc))
            return fallback

    def refuse(self) -> None:
        """Raise the ConfigError listing every problem, if any was found."""
        if not self.found:
            return
        head = f"{self.where}: " if self.where else ""
        raise ConfigError(f"{head}{len(self.found)} problem(s), nothing was run:\n"
                          + "\n".join(f"  {head}{p}" for p in self.found))

ORDER_FIELDS = ("order_id", "amount", "currency", "status", "created_at", "link_id",
                "payment_method")
REQUIRED_ORDER_FIELDS = ORDER_FIELDS[:5]
ORDER_STATUSES = ("awaiting_payment", "paid", "cancelled", "refunded")


REPORT_FORMATS = ("csv", "xlsx", "html", "json")


def coerce(section: str, key: str, value: Any, kind: type) -> Any:
    where = f"[{section}] {key}"
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config {where} = {value!r}: expected true or false")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        raise ConfigError(f"config {where} = {value!r}: expected a positive whole number")
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)  # every float setting is a number of seconds
        raise ConfigError(f"config {where} = {value!r}: expected a number of seconds >= 0")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"config {where} = {value!r}: expected a string")
    raise ConfigError(f"config {where}: unsupported setting")


# Setting types. The one float kind is durations (every float setting is `*_seconds`, a
# unit test holds that); amounts are Decimal text, as in [matching.tolerance].
SCALARS = {"bool": bool, "int": int, "float": float, "str": str}


def _string_list(where: str, value: Any, allow_empty: bool = True) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (
            not allow_empty and not value):
        raise ConfigError(f"config {where} = {value!r}: expected a list of strings")
    return tuple(value)


def _columns(where: str, value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"config [{where}.columns] must be a table of field = \"Column name\"")
    mapping = {f: f for f in ORDER_FIELDS}
    for key, column in value.items():
        if key not in ORDER_FIELDS:
            raise ConfigError(f"config [{where}.columns] has unknown field '{key}'; allowed: "
                              f"{', '.join(ORDER_FIELDS)}")
        if not isinstance(column, str):
            raise ConfigError(f"config [{where}.columns] {key} = {column!r}: expected a "
                              "column name")
        if not column.strip() and key in REQUIRED_ORDER_FIELDS:
            raise ConfigError(f"config [{where}.columns] {key} = {column!r}: every order needs "
                              f"its {key}; name the export's column that holds it (only "
                              f"{' and '.join(ORDER_FIELDS[5:])} may be \"\", for none)")
        mapping[key] = column
    return tuple((k, v) for k, v in mapping.items() if v)


def _status_map(where: str, value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"config [{where}.status_map] must be a table of \"shop value\" = "
                          "\"status\"")
    for shop_value, status in value.items():
        if status not in ORDER_STATUSES:
            raise ConfigError(f"config [{where}.status_map] \"{shop_value}\" = {status!r}: "
                              f"expected one of {', '.join(ORDER_STATUSES)}")
    return _once_each(f"[{where}.status_map]", "shop value", value)


def _once_each(where: str, what: str, value: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The table's entries, each key once: keys are compared case-insensitively and
    without surrounding spaces, so two that read as one are refused (either could be meant)."""
    seen: dict[str, str] = {}
    for key in value:
        same = key.strip().lower()
        if same in seen:
            raise ConfigError(f"config {where} has the {what} {seen[same]!r} twice, also as "
                              f"{key!r}: {what}s compare case-insensitively; keep one")
        seen[same] = key
    return tuple(value.items())


def _tolerance(_: str, value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError("config [matching.tolerance] must be a table of CURRENCY = \"0.01\"")
    for currency, amount in value.items():
        try:
            ok = isinstance(amount, str) and Decimal(amount) >= 0
        except InvalidOperation:
            ok = False
        if not ok:
            raise ConfigError(f"config [matching.tolerance] {currency} = {amount!r}: expected "
                              "a decimal string >= 0, e.g. \"0.01\"")
    return tuple((c.upper(), a) for c, a in _once_each("[matching.tolerance]", "currency",
                                                       value))


def _groups(_: str, value: Any) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list):
        raise ConfigError("config [matching] equivalent_currencies: expected a list of lists, "
                          "e.g. [[\"USD\", \"USDT\"]]")
    merged: list[set[str]] = []
    for group in value:
        joined = {c.strip().upper() for c in _string_list(
            "[matching] equivalent_currencies", group, allow_empty=False)}
        # equivalence is transitive: groups that share a currency are one group
        for other in [g for g in merged if g & joined]:
            joined |= other
            merged.remove(other)
        merged.append(joined)
    return tuple(tuple(sorted(g)) for g in merged)


def _one_char(name: str) -> Any:
    def check(where: str, value: Any) -> str:
        allowed = {"delimiter": ("auto", ",", ";", "\t", "|"),
                   "decimal_separator": ("auto", ".", ","),
                   "thousands_separator": ("", ",", ".", " ", "'")}[name]
        if value not in allowed:
            raise ConfigError(f"config [{where}] {name} = {value!r}: expected one of "
                              f"{', '.join(repr(a) for a in allowed)}")
        return value
    return check


def _share(where: str, value: Any) -> Decimal:
    """A share of the rows, from 0 up to (not including) 1: a file whose every row is
    rejected is never loaded."""
    try:
        share = (Decimal(str(value)) if isinstance(value, int | float | str)
                 and not isinstance(value, bool) else None)
    except InvalidOperation:
        share = None
    if share is None or not share.is_finite() or not 0 <= share < 1:
        raise ConfigError(f"config [{where}] max_rejected_share = {value!r}: expected a share "
                          "of the rows read from 0 up to (not including) 1, e.g. 0.02 for 2%")
    return share


def _request_budget(_: str, value: Any) -> str:
    """A multiple of the minimum ("3x", "2.5x") or a whole number of requests (20000)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?x", value.strip()) and (
            Decimal(value.strip()[:-1]) >= 1):
        return value.strip()
    raise ConfigError(f"config [sync] request_budget = {value!r}: expected a multiple of the "
                      "minimum of one request per 100 links, at least \"1x\" (e.g. \"3x\"), "
                      "or a whole number of requests (e.g. 20000)")


def _max_vanished(_: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ConfigError(f"config [sync] max_vanished = {value!r}: expected a whole number >= 0 "
                      "(links PIK may lose in one sync before it stops, default 10)")



def _zone(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"config [{where}] timezone = {value!r}: expected a string")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"config [{where}] timezone = {value!r}: not a time zone; use a "
                          "name such as \"UTC\" or \"Europe/Berlin\"") from None
    return value


def _regex(_: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"config [matching] description_regex = {value!r}: expected a string")
    try:
        pattern = re.compile(value)
    except re.error as exc:
        raise ConfigError(f"config [matching] description_regex: {exc}") from None
    if pattern.groups < 1:
        raise ConfigError("config [matching] description_regex needs one group capturing "
                          "the order id, e.g. '^Order #(\\S+)$'")
    return value


def _url(_: str, value: Any) -> str:
    if not isinstance(value, str) or (value and not value.startswith(("https://", "http://"))):
        raise ConfigError("config [notify] webhook_url must be an http(s) URL")
    return value


def _buckets(value: Any) -> tuple[int, ...]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
            or sorted(set(value)) != value):
        raise ConfigError(f"config [report] aging_buckets = {value!r}: expected rising whole "
                          "days, e.g. [1, 7, 30] for 0-1, 2-7, 8-30, 31+")
    return tuple(value)


def parse_formats(value: Any) -> tuple[str, ...]:
    """Report formats from a list or a comma-separated string."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"report formats {value!r}: expected some of "
                          f"{', '.join(REPORT_FORMATS)}")
    if not all(i.strip() for i in items):
        raise ConfigError(f"report formats {value!r}: an empty entry; name one or more of "
                          f"{', '.join(REPORT_FORMATS)}, such as csv,html")
    cleaned = tuple(dict.fromkeys(i.strip().lower() for i in items))
    unknown = [i for i in cleaned if i not in REPORT_FORMATS]
    if unknown:
        raise ConfigError(f"report formats {value!r}: unknown {', '.join(unknown)};"
                          f" choose from {', '.join(REPORT_FORMATS)}")
    return cleaned


# The settings a type alone does not check, by (section, key); the others go by their type.
CHECKS: dict[tuple[str, str], Callable[[str, Any], Any]] = {
    ("sync", "request_budget"): _request_budget,
    ("sync", "max_vanished"): _max_vanished,
    ("orders", "delimiter"): _one_char("delimiter"),
    ("orders", "decimal_separator"): _one_char("decimal_separator"),
    ("orders", "thousands_separator"): _one_char("thousands_separator"),
    ("orders", "filter_values"): lambda where, v: _string_list(f"[{where}] filter_values", v),
    ("orders", "columns"): _columns,
    ("orders", "status_map"): _status_map,
    ("orders", "max_rejected_share"): _share,
    ("orders", "timezone"): _zone,
    ("report", "timezone"): _zone,
    ("matching", "tolerance"): _tolerance,
    ("matching", "equivalent_currencies"): _groups,
    ("matching", "description_regex"): _regex,
    ("notify", "webhook_url"): _url,
    ("report", "aging_buckets"): lambda _, v: _buckets(v),
    ("report", "formats"): lambda _, v: parse_formats(v),
}

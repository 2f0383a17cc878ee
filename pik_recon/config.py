"""Configuration: one frozen value built from options > environment > TOML file > defaults."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pik_recon.errors import ConfigError
from pik_recon.keys import Secret, check_key, check_key_env
from pik_recon.webhooks.settings import (
    DEFAULT_WEBHOOK_SECRET_ENV,
    WebhooksSettings,
    check_webhooks,
    distinct_secret_envs,
    secret_env,
)

DEFAULT_BASE_URL = "https://api.pik.global/v1"
DEFAULT_DB = "./pik_recon.duckdb"
DEFAULT_CONFIG = "./pik-recon.toml"
DEFAULT_ACCOUNT = "default"
DEFAULT_KEY_ENV = "PIK_API_KEY"
ACCOUNT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


@dataclass(frozen=True)
class PikSettings:
    """How to talk to PIK."""

    base_url: str = DEFAULT_BASE_URL
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0
    rate_limit_per_minute: int = 300
    create_rate_limit_per_minute: int = 60
    rate_limit_enabled: bool = True
    concurrency: int = 8
    max_retries: int = 8
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 60.0
    max_retry_after_seconds: float = 300.0  # a longer Retry-After ends the command (exit 4)


@dataclass(frozen=True)
class SyncSettings:
    """How the sync pages and verifies."""

    batch_rows: int = 50_000
    request_budget: str = "3x"  # "Nx": N times the minimum; or a number of requests
    max_vanished: int = 10  # more links PIK does not know, in one sync: another account's


ORDER_FIELDS = ("order_id", "amount", "currency", "status", "created_at", "link_id",
                "payment_method")
REQUIRED_ORDER_FIELDS = ORDER_FIELDS[:5]
ORDER_STATUSES = ("awaiting_payment", "paid", "cancelled", "refunded")


@dataclass(frozen=True)
class OrdersSettings:
    """How to read the shop's orders export (SPEC §5)."""

    delimiter: str = "auto"
    decimal_separator: str = "auto"  # "auto": the format the file's amounts prove
    thousands_separator: str = ""  # under "auto": the mark the decimal separator is not
    date_format: str = ""
    timezone: str = "UTC"
    line_items: bool = False
    filter_column: str = ""
    filter_values: tuple[str, ...] = ()
    columns: tuple[tuple[str, str], ...] = tuple((f, f) for f in ORDER_FIELDS)
    status_map: tuple[tuple[str, str], ...] = tuple((s, s) for s in ORDER_STATUSES)
    max_rejected_share: Decimal = Decimal("0.02")  # more rejected rows: nothing is stored

    def column(self, field_name: str) -> str | None:
        return dict(self.columns).get(field_name)


@dataclass(frozen=True)
class MatchingSettings:
    """How links are matched to orders and compared (SPEC §6)."""

    description_regex: str = r"^Order #(\S+)$"
    unpaid_after_days: int = 2
    tolerance: tuple[tuple[str, str], ...] = ()
    equivalent_currencies: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class ReconcileSettings:
    """When money received is late (SPEC §6): unsettled, and unannounced by any webhook."""

    settlement_hours: int = 24  # confirmed longer ago and not settled: unsettled
    webhook_grace_hours: int = 6  # confirmed longer ago and no signed event: webhook_missed


REPORT_FORMATS = ("csv", "xlsx", "html", "json")


@dataclass(frozen=True)
class ReportSettings:
    """What `pik-recon report` writes and how (SPEC §7)."""

    timezone: str = "UTC"
    aging_buckets: tuple[int, ...] = (1, 7, 30)
    stale_after_hours: int = 26
    formats: tuple[str, ...] = REPORT_FORMATS
    out_dir: str = "./reports"
    wait_seconds: int = 300
    top_findings: int = 200


@dataclass(frozen=True)
class NotifySettings:
    """Where job notifications go."""

    webhook_url: str = ""
    retries: int = 3
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class JobsSettings:
    """Where job definitions live."""

    dir: str = "./jobs"


@dataclass(frozen=True)
class Account:
    """One PIK account: its name in the warehouse, where its key and webhook secret are, and
    its own settings (those of [pik] and [orders] with the account's overrides)."""

    name: str
    key_env: str
    pik: PikSettings
    orders: OrdersSettings
    api_key: Secret | None = None
    webhook_secret_env: str = DEFAULT_WEBHOOK_SECRET_ENV
    webhook_secret: Secret | None = None  # set: webhook capture is on for the account


@dataclass(frozen=True)
class Config:
    """Everything a command needs, built once and passed in. `pik`, `orders` and `api_key`
    are those of `account`; `for_account` gives the Config of another."""

    pik: PikSettings = field(default_factory=PikSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    orders: OrdersSettings = field(default_factory=OrdersSettings)
    matching: MatchingSettings = field(default_factory=MatchingSettings)
    reconcile: ReconcileSettings = field(default_factory=ReconcileSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    jobs: JobsSettings = field(default_factory=JobsSettings)
    webhooks: WebhooksSettings = field(default_factory=WebhooksSettings)
    db_path: Path = Path(DEFAULT_DB)
    api_key: Secret | None = None
    source: str = "defaults"
    accounts: tuple[Account, ...] = ()
    account: str = DEFAULT_ACCOUNT

    @property
    def account_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.accounts) or (DEFAULT_ACCOUNT,)

    @property
    def capturing(self) -> tuple[Account, ...]:
        """The accounts whose webhook capture is on: their secret variable is set."""
        return tuple(a for a in self.accounts if a.webhook_secret is not None)

    def capture_on(self, name: str) -> bool:
        """Whether webhook capture is on for the account `name` (SPEC §6, §9b)."""
        return any(a.name == name for a in self.capturing)

    @property
    def spool_dir(self) -> Path:
        """The webhook receiver's spool: [webhooks] spool_dir, else beside the warehouse."""
        if self.webhooks.spool_dir:
            return Path(self.webhooks.spool_dir)
        return self.db_path.with_name(f"{self.db_path.stem}.webhooks")

    @property
    def key_env(self) -> str:
        return next((a.key_env for a in self.accounts if a.name == self.account),
                    DEFAULT_KEY_ENV)

    def for_account(self, name: str) -> Config:
        """This config, scoped to the account `name` (which must be configured)."""
        for account in self.accounts:
            if account.name == name:
                return dataclasses.replace(self, pik=account.pik, orders=account.orders,
                                           api_key=account.api_key, account=name)
        raise ConfigError(f"--account {name}: no such account; configured: "
                          f"{', '.join(self.account_names)}")

    def scoped(self, names: Sequence[str] = ()) -> list[Config]:
        """The configs of the accounts named (every configured account when none is), in
        config order; an unknown name is refused before anything runs."""
        wanted = list(dict.fromkeys(names))
        for name in wanted:
            self.for_account(name)
        return [self.for_account(a) for a in self.account_names
                if not wanted or a in wanted]

    def require_api_key(self) -> Secret:
        """The account's key, checked (keys.check_key); missing, a ConfigError saying how to
        set it."""
        who = "" if len(self.accounts) <= 1 else f" for account {self.account}"
        if self.api_key is None or not self.api_key.reveal():
            raise ConfigError(
                f"No PIK API key{who}. Set it in the environment, e.g. "
                f"`export {self.key_env}=...` (the key is never read from the config file, "
                "never printed and never stored)."
            )
        return check_key(self.api_key, who)


_SECTIONS: dict[str, type] = {"pik": PikSettings, "sync": SyncSettings,
                              "orders": OrdersSettings, "matching": MatchingSettings,
                              "reconcile": ReconcileSettings,
                              "report": ReportSettings, "notify": NotifySettings,
                              "jobs": JobsSettings, "webhooks": WebhooksSettings}
_TOP_LEVEL = {"db", "accounts"}


def _coerce(section: str, key: str, value: Any, kind: type) -> Any:
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


def _section(name: str, cls: type, raw: Mapping[str, Any], kind_of: str | None = None) -> Any:
    """The settings `cls` from the table [name] (`kind_of`: the section whose rules apply,
    for an account's own [pik] and [orders] settings)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config [{name}] must be a table")
    section = kind_of or name
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in fields:
            allowed = ", ".join(sorted(fields))
            raise ConfigError(f"config [{name}] has unknown key '{key}'; allowed: {allowed}")
        kind = fields[key].type
        if (section, key) in _CHECKED:
            values[key] = _CHECKED[(section, key)](name, value)
        elif kind in _SCALARS:
            values[key] = _coerce(name, key, value, _SCALARS[kind])
        else:
            values[key] = _COMPOUND[(section, key)](name, value)
    return cls(**values)


# Setting types. The one float kind is durations (every float setting is `*_seconds`, a
# unit test holds that); amounts are Decimal text, as in [matching.tolerance].
_SCALARS = {"bool": bool, "int": int, "float": float, "str": str}


def _string_list(where: str, value: Any, allow_empty: bool = True) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (
            not allow_empty and not value):
        raise ConfigError(f"config {where} = {value!r}: expected a list of strings")
    return tuple(value)


def _columns(where: str, value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"config [{where}.columns] must be a table of field = \"Column name\"")
    mapping = dict(OrdersSettings().columns)
    for key, column in value.items():
        if key not in ORDER_FIELDS:
            raise ConfigError(f"config [{where}.columns] has unknown field '{key}'; allowed: "
                              f"{', '.join(ORDER_FIELDS)}")
        if not isinstance(column, str):
            raise ConfigError(f"config [{where}.columns] {key} = {column!r}: expected a "
                              "column name")
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
    return tuple((c.upper(), a) for c, a in value.items())


def _groups(_: str, value: Any) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list):
        raise ConfigError("config [matching] equivalent_currencies: expected a list of lists, "
                          "e.g. [[\"USD\", \"USDT\"]]")
    return tuple(tuple(c.upper() for c in _string_list(
        "[matching] equivalent_currencies", group, allow_empty=False)) for group in value)


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


_CHECKED: dict[tuple[str, str], Any] = {
    ("sync", "request_budget"): _request_budget,
    ("sync", "max_vanished"): _max_vanished,
    ("orders", "delimiter"): _one_char("delimiter"),
    ("orders", "decimal_separator"): _one_char("decimal_separator"),
    ("orders", "thousands_separator"): _one_char("thousands_separator"),
}

_COMPOUND: dict[tuple[str, str], Any] = {
    ("orders", "filter_values"): lambda where, v: _string_list(f"[{where}] filter_values", v),
    ("orders", "columns"): _columns,
    ("orders", "status_map"): _status_map,
    ("orders", "max_rejected_share"): _share,
    ("matching", "tolerance"): _tolerance,
    ("matching", "equivalent_currencies"): _groups,
    ("report", "aging_buckets"): lambda _, v: _buckets(v),
    ("report", "formats"): lambda _, v: parse_formats(v),
}


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
    cleaned = tuple(dict.fromkeys(i.strip().lower() for i in items if i.strip()))
    unknown = [i for i in cleaned if i not in REPORT_FORMATS]
    if unknown or not cleaned:
        raise ConfigError(f"report formats {value!r}: unknown {', '.join(unknown) or 'none'};"
                          f" choose from {', '.join(REPORT_FORMATS)}")
    return cleaned


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning syntax errors into a ConfigError naming the file."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from exc


def _config_path(option: str | None, env: Mapping[str, str]) -> Path | None:
    if option:
        path = Path(option)
        if not path.is_file():
            raise ConfigError(f"--config {option}: no such file")
        return path
    if env.get("PIK_RECON_CONFIG"):
        path = Path(env["PIK_RECON_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"PIK_RECON_CONFIG={path}: no such file")
        return path
    default = Path(DEFAULT_CONFIG)
    return default if default.is_file() else None


def load_config(*, config_path: str | None = None, db: str | None = None,
                base_url: str | None = None, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Config:
    """Build the Config: command-line option > environment > file > default."""
    env = os.environ if env is None else env
    path = _config_path(config_path, env)
    raw = read_toml(path) if path else {}
    for key in raw:
        if key not in _SECTIONS and key not in _TOP_LEVEL:
            allowed = ", ".join(sorted([*_SECTIONS, *_TOP_LEVEL]))
            raise ConfigError(f"config has unknown key '{key}'; allowed: {allowed}")
    merged: dict[str, dict[str, Any]] = {name: dict(raw.get(name, {})) for name in _SECTIONS}
    if env.get("PIK_BASE_URL"):
        merged["pik"]["base_url"] = env["PIK_BASE_URL"]
    if base_url:
        merged["pik"]["base_url"] = base_url
    for name, values in (overrides or {}).items():
        merged[name].update(values)
    db_value = db or env.get("PIK_RECON_DB") or raw.get("db") or DEFAULT_DB
    if not isinstance(db_value, str):
        raise ConfigError(f"config db = {db_value!r}: expected a file path")
    pik = _section("pik", PikSettings, merged["pik"])
    orders = _orders(_section("orders", OrdersSettings, merged["orders"]), "orders")
    accounts = _accounts(raw.get("accounts"), merged, env, (overrides or {}).get("pik", {})
                         ) if "accounts" in raw else (
        Account(DEFAULT_ACCOUNT, DEFAULT_KEY_ENV, pik, orders, _key(env, DEFAULT_KEY_ENV),
                DEFAULT_WEBHOOK_SECRET_ENV, _key(env, DEFAULT_WEBHOOK_SECRET_ENV)),)
    first = accounts[0]
    return Config(
        pik=first.pik,
        sync=_section("sync", SyncSettings, merged["sync"]),
        orders=first.orders,
        matching=_matching(_section("matching", MatchingSettings, merged["matching"])),
        reconcile=_section("reconcile", ReconcileSettings, merged["reconcile"]),
        report=_report(_section("report", ReportSettings, merged["report"])),
        notify=_notify(_section("notify", NotifySettings, merged["notify"])),
        jobs=_section("jobs", JobsSettings, merged["jobs"]),
        webhooks=check_webhooks(_section("webhooks", WebhooksSettings, merged["webhooks"])),
        db_path=Path(db_value),
        api_key=first.api_key,
        source=str(path) if path else "defaults",
        accounts=accounts,
        account=first.name,
    )


def _key(env: Mapping[str, str], name: str) -> Secret | None:
    value = env.get(name)
    return Secret(value, name) if value else None


_ACCOUNT_KEYS = ("key_env", "webhook_secret_env", "orders",
                 *(f.name for f in dataclasses.fields(PikSettings)))


def _accounts(raw: Any, merged: Mapping[str, Mapping[str, Any]], env: Mapping[str, str],
              pik_options: Mapping[str, Any]) -> tuple[Account, ...]:
    """[accounts.NAME] tables: each names the variable holding its key and may override
    [pik] settings and [orders] keys for that account (command-line options override
    both)."""
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError("config [accounts] must hold one table per account, e.g. "
                          "[accounts.brand-a] with key_env = \"PIK_KEY_BRAND_A\"")
    accounts, key_envs = [], {}
    for name, table in raw.items():
        where = f"[accounts.{name}]"
        if not ACCOUNT_NAME.fullmatch(name):
            raise ConfigError(f"config {where}: an account name is 1-40 lower-case letters, "
                              "digits, '-' or '_', starting with a letter or digit (it names "
                              "folders of the Parquet export)")
        if not isinstance(table, Mapping):
            raise ConfigError(f"config {where} must be a table with key_env")
        unknown = [k for k in table if k not in _ACCOUNT_KEYS]
        if unknown:
            raise ConfigError(f"config {where} has unknown key '{unknown[0]}'; allowed: "
                              f"{', '.join(sorted(_ACCOUNT_KEYS))}")
        key_env = check_key_env(where, table.get("key_env"))
        if key_env in key_envs:
            raise ConfigError(f"config {where} key_env = {key_env!r}: account "
                              f"{key_envs[key_env]} reads its key there already; each account "
                              "has a key of its own")
        key_envs[key_env] = name
        pik = {**merged["pik"], **{k: v for k, v in table.items()
                                   if k not in ("key_env", "webhook_secret_env", "orders")},
               **pik_options}
        orders_raw = table.get("orders", {})
        if not isinstance(orders_raw, Mapping):
            raise ConfigError(f"config {where} orders must be a table of [orders] keys")
        orders = {**merged["orders"], **orders_raw}
        secret_env_name = secret_env(where, table, name)
        accounts.append(Account(
            name, key_env, _section(f"accounts.{name}", PikSettings, pik, "pik"),
            _orders(_section(f"accounts.{name}.orders", OrdersSettings, orders, "orders"),
                    f"accounts.{name}.orders"),
            _key(env, key_env), secret_env_name, _key(env, secret_env_name)))
    distinct_secret_envs(accounts)
    return tuple(accounts)


def _check_zone(section: str, zone: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"config [{section}] timezone = {zone!r}: not a time zone; use a "
                          "name such as \"UTC\" or \"Europe/Berlin\"") from None


def _orders(settings: OrdersSettings, where: str) -> OrdersSettings:
    _check_zone(where, settings.timezone)
    if settings.thousands_separator and (
            settings.thousands_separator == settings.decimal_separator):
        raise ConfigError(f"config [{where}] thousands_separator must differ from "
                          "decimal_separator")
    if settings.filter_values and not settings.filter_column:
        raise ConfigError(f"config [{where}] filter_values needs filter_column")
    return settings


def _matching(settings: MatchingSettings) -> MatchingSettings:
    try:
        pattern = re.compile(settings.description_regex)
    except re.error as exc:
        raise ConfigError(f"config [matching] description_regex: {exc}") from None
    if pattern.groups < 1:
        raise ConfigError("config [matching] description_regex needs one group capturing "
                          "the order id, e.g. '^Order #(\\S+)$'")
    return settings


def _report(settings: ReportSettings) -> ReportSettings:
    _check_zone("report", settings.timezone)
    return settings


def _notify(settings: NotifySettings) -> NotifySettings:
    if settings.webhook_url and not settings.webhook_url.startswith(("https://", "http://")):
        raise ConfigError("config [notify] webhook_url must be an http(s) URL")
    return settings

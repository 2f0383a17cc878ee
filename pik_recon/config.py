"""Configuration: one frozen value built from options > environment > TOML file > defaults."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pik_recon.config_values import (
    CHECKS,
    ORDER_FIELDS,
    ORDER_STATUSES,
    REPORT_FORMATS,
    SCALARS,
    Problems,
    coerce,
)
from pik_recon.errors import ConfigError
from pik_recon.keys import Secret, check_key, check_key_env
from pik_recon.webhooks.settings import (
    DEFAULT_WEBHOOK_SECRET_ENV,
    WebhooksSettings,
    secret_env,
    secret_env_problems,
    webhooks_problems,
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


@dataclass(frozen=True)
class OrdersSettings:
    """How to read the shop's orders export (README: Orders import)."""

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
    """How links are matched to orders and compared (README: Matching and findings)."""

    description_regex: str = r"^Order #(\S+)$"
    unpaid_after_days: int = 2
    tolerance: tuple[tuple[str, str], ...] = ()
    equivalent_currencies: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class ReconcileSettings:
    """When money received is late (SPEC §6): unsettled, and unannounced by any webhook."""

    settlement_hours: int = 24  # confirmed longer ago and not settled: unsettled
    webhook_grace_hours: int = 6  # confirmed longer ago and no signed event: webhook_missed


@dataclass(frozen=True)
class ReportSettings:
    """What `pik-recon report` writes and how (README: Reports)."""

    timezone: str = "UTC"
    aging_buckets: tuple[int, ...] = (1, 7, 30)
    stale_after_hours: int = 26
    formats: tuple[str, ...] = REPORT_FORMATS
    out_dir: str = "./reports"
    wait_seconds: int = 300
    top_findings: int = 200
    xlsx_findings: int = 50_000  # the workbook lists the first; findings.csv every one


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


def _section(name: str, base: Any, raw: Any, problems: Problems, kind_of: str | None = None
             ) -> Any:
    """The settings `base` with the keys of the table [name] applied, each checked; a wrong
    key is noted in `problems` and keeps its value from `base` (`kind_of`: the section whose
    rules apply, for an account's own [pik] and [orders] settings)."""
    if not isinstance(raw, Mapping):
        problems.add(f"config [{name}] must be a table")
        return base
    section = kind_of or name
    fields = {f.name: f for f in dataclasses.fields(base)}
    values = {}
    for key, value in raw.items():
        if key not in fields:
            problems.add(f"config [{name}] has unknown key '{key}'; allowed: "
                         f"{', '.join(sorted(fields))}")
        elif (section, key) in CHECKS:
            values[key] = problems.check(CHECKS[(section, key)], name, value,
                                         fallback=getattr(base, key))
        else:
            values[key] = problems.check(coerce, name, key, value, SCALARS[fields[key].type],
                                         fallback=getattr(base, key))
    return dataclasses.replace(base, **values)


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
    """Build the Config: command-line option > environment > file > default. Every mistake
    is named at once (file, key, what was wrong, what is accepted), exit 2."""
    env = os.environ if env is None else env
    path = _config_path(config_path, env)
    raw = read_toml(path) if path else {}
    problems = Problems(str(path) if path else None)
    problems.extend(f"config has unknown key '{key}'; allowed: "
                    f"{', '.join(sorted([*_SECTIONS, *_TOP_LEVEL]))}"
                    for key in raw if key not in _SECTIONS and key not in _TOP_LEVEL)
    merged: dict[str, Any] = {name: raw.get(name, {}) for name in _SECTIONS}
    pik_options = {**({"base_url": env["PIK_BASE_URL"]} if env.get("PIK_BASE_URL") else {}),
                   **({"base_url": base_url} if base_url else {})}
    for name, values in [("pik", pik_options), *(overrides or {}).items()]:
        if isinstance(merged[name], Mapping):
            merged[name] = {**merged[name], **values}
    settings = {name: _section(name, cls(), merged[name], problems)
                for name, cls in _SECTIONS.items()}
    problems.extend(webhooks_problems(settings["webhooks"]))
    problems.extend(_orders_problems(settings["orders"], "orders"))
    db_value = db or env.get("PIK_RECON_DB") or raw.get("db") or DEFAULT_DB
    if not isinstance(db_value, str):
        problems.add(f"config db = {db_value!r}: expected a file path")
    accounts = _accounts(raw.get("accounts"), settings, env, (overrides or {}).get("pik", {}),
                         problems
                         ) if "accounts" in raw else (
        Account(DEFAULT_ACCOUNT, DEFAULT_KEY_ENV, settings["pik"], settings["orders"],
                _key(env, DEFAULT_KEY_ENV), DEFAULT_WEBHOOK_SECRET_ENV,
                _key(env, DEFAULT_WEBHOOK_SECRET_ENV)),)
    problems.refuse()
    first = accounts[0]
    return Config(
        pik=first.pik, sync=settings["sync"], orders=first.orders,
        matching=settings["matching"], reconcile=settings["reconcile"],
        report=settings["report"], notify=settings["notify"],
        jobs=settings["jobs"], webhooks=settings["webhooks"], db_path=Path(db_value),
        api_key=first.api_key, source=str(path) if path else "defaults", accounts=accounts,
        account=first.name)


def _key(env: Mapping[str, str], name: str) -> Secret | None:
    value = env.get(name)
    return Secret(value, name) if value else None


_ACCOUNT_KEYS = ("key_env", "webhook_secret_env", "orders",
                 *(f.name for f in dataclasses.fields(PikSettings)))


def _accounts(raw: Any, settings: Mapping[str, Any], env: Mapping[str, str],
              pik_options: Mapping[str, Any], problems: Problems) -> tuple[Account, ...]:
    """[accounts.NAME] tables: each names the variable holding its key and may override
    [pik] settings and [orders] keys for that account (command-line options override
    both)."""
    if not isinstance(raw, Mapping) or not raw:
        problems.add("config [accounts] must hold one table per account, e.g. "
                     "[accounts.brand-a] with key_env = \"PIK_KEY_BRAND_A\"")
        return (Account(DEFAULT_ACCOUNT, DEFAULT_KEY_ENV, settings["pik"], settings["orders"]),)
    accounts, key_envs = [], {}
    for name, table in raw.items():
        where = f"[accounts.{name}]"
        if not ACCOUNT_NAME.fullmatch(name):
            problems.add(f"config {where}: an account name is 1-40 lower-case letters, "
                         "digits, '-' or '_', starting with a letter or digit (it names "
                         "folders of the Parquet export)")
        if not isinstance(table, Mapping):
            problems.add(f"config {where} must be a table with key_env")
            continue
        problems.extend(f"config {where} has unknown key '{key}'; allowed: "
                        f"{', '.join(sorted(_ACCOUNT_KEYS))}"
                        for key in table if key not in _ACCOUNT_KEYS)
        key_env = problems.check(check_key_env, where, table.get("key_env"), fallback=None)
        if key_env in key_envs:
            problems.add(f"config {where} key_env = {key_env!r}: account {key_envs[key_env]} "
                         "reads its key there already; each account has a key of its own")
        key_envs.setdefault(key_env, name)
        own = {k: v for k, v in table.items() if k in _ACCOUNT_KEYS and k not in (
            "key_env", "webhook_secret_env", "orders")}
        pik = _section(f"accounts.{name}", settings["pik"], own, problems, "pik")
        pik = dataclasses.replace(pik, **{k: getattr(settings["pik"], k) for k in pik_options})
        orders = _account_orders(name, table.get("orders", {}), settings["orders"], problems)
        secret_env_name = problems.check(secret_env, where, table, name,
                                         fallback=DEFAULT_WEBHOOK_SECRET_ENV)
        accounts.append(Account(name, key_env or DEFAULT_KEY_ENV, pik, orders,
                                _key(env, key_env) if key_env else None, secret_env_name,
                                _key(env, secret_env_name)))
    problems.extend(secret_env_problems(accounts))
    return tuple(accounts) or (Account(DEFAULT_ACCOUNT, DEFAULT_KEY_ENV, settings["pik"],
                                       settings["orders"]),)


def _account_orders(name: str, raw: Any, shared: OrdersSettings, problems: Problems
                    ) -> OrdersSettings:
    """An account's [orders] settings: the shared ones with its own keys applied; what is
    wrong with the shared ones is named once, under [orders]."""
    where = f"accounts.{name}.orders"
    if not isinstance(raw, Mapping):
        problems.add(f"config [accounts.{name}] orders must be a table of [orders] keys")
        return shared
    orders = _section(where, shared, raw, problems, "orders")
    inherited = _orders_problems(shared, "orders")
    problems.extend(p for p in _orders_problems(orders, where)
                    if p.replace(f"[{where}]", "[orders]") not in inherited)
    return orders


def _orders_problems(settings: OrdersSettings, where: str) -> list[str]:
    """What is wrong with [orders] keys together, that none is alone."""
    problems = []
    if settings.thousands_separator and (
            settings.thousands_separator == settings.decimal_separator):
        problems.append(f"config [{where}] thousands_separator must differ from "
                        "decimal_separator")
    if settings.filter_values and not settings.filter_column:
        problems.append(f"config [{where}] filter_values needs filter_column")
    return problems

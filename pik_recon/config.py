"""Configuration: one frozen value built from options > environment > TOML file > defaults."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pik_recon.errors import ConfigError

DEFAULT_BASE_URL = "https://api.pik.global/v1"
DEFAULT_DB = "./pik_recon.duckdb"
DEFAULT_CONFIG = "./pik-recon.toml"


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


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


@dataclass(frozen=True)
class SyncSettings:
    """How the sync pages and verifies."""

    batch_rows: int = 5000
    repair_rounds: int = 8


@dataclass(frozen=True)
class Config:
    """Everything a command needs, built once and passed in."""

    pik: PikSettings = field(default_factory=PikSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    db_path: Path = Path(DEFAULT_DB)
    api_key: Secret | None = None
    source: str = "defaults"

    def require_api_key(self) -> Secret:
        if self.api_key is None or not self.api_key.reveal():
            raise ConfigError(
                "No PIK API key. Set it in the environment, e.g. "
                "`export PIK_API_KEY=...` (the key is never read from the config file, "
                "never printed and never stored)."
            )
        return self.api_key


_SECTIONS: dict[str, type] = {"pik": PikSettings, "sync": SyncSettings}
_TOP_LEVEL = {"db"}


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
            return float(value)
        raise ConfigError(f"config {where} = {value!r}: expected a number of seconds >= 0")
    if kind is str:
        if isinstance(value, str) and value:
            return value
        raise ConfigError(f"config {where} = {value!r}: expected a non-empty string")
    raise ConfigError(f"config {where}: unsupported setting")


def _section(name: str, cls: type, raw: Mapping[str, Any]) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config [{name}] must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in fields:
            allowed = ", ".join(sorted(fields))
            raise ConfigError(f"config [{name}] has unknown key '{key}'; allowed: {allowed}")
        values[key] = _coerce(name, key, value, {"bool": bool, "int": int, "float": float,
                                                 "str": str}[fields[key].type])
    return cls(**values)


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
    key = env.get("PIK_API_KEY")
    return Config(
        pik=_section("pik", PikSettings, merged["pik"]),
        sync=_section("sync", SyncSettings, merged["sync"]),
        db_path=Path(db_value),
        api_key=Secret(key) if key else None,
        source=str(path) if path else "defaults",
    )

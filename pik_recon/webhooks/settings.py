"""The [webhooks] settings and each account's webhook secret variable (kept out of config.py,
which reads them, so that module stays one screenful of concerns)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pik_recon.errors import ConfigError

if TYPE_CHECKING:
    from pik_recon.config import Account

DEFAULT_WEBHOOK_SECRET_ENV = "PIK_WEBHOOK_SECRET"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class WebhooksSettings:
    """Where `pik-recon webhooks serve` listens and spools PIK's events."""

    spool_dir: str = ""  # "" = beside the warehouse, <warehouse name>.webhooks
    host: str = "127.0.0.1"
    port: int = 8766
    max_body_bytes: int = 65_536
    segment_seconds: float = 60.0


def default_webhook_secret_env(account: str) -> str:
    """PIK_WEBHOOK_SECRET for the account `default`, else PIK_WEBHOOK_SECRET_<NAME>
    (brand-a: PIK_WEBHOOK_SECRET_BRAND_A)."""
    if account == "default":
        return DEFAULT_WEBHOOK_SECRET_ENV
    return f"{DEFAULT_WEBHOOK_SECRET_ENV}_{account.upper().replace('-', '_')}"


def secret_env(where: str, table: Mapping[str, Any], account: str) -> str:
    """The variable an [accounts.NAME] table names for its webhook secret, or the default."""
    value = table.get("webhook_secret_env", default_webhook_secret_env(account))
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise ConfigError(f"config {where} webhook_secret_env = {value!r}: expected the name "
                          "of the environment variable holding the account's webhook secret, "
                          "e.g. \"PIK_WEBHOOK_SECRET_BRAND_A\" (the secret itself never goes "
                          "in the file)")
    return value


def secret_env_problems(accounts: Sequence[Account]) -> list[str]:
    """Each account reads its webhook secret from a variable of its own, none an API key's."""
    owners: dict[str, str] = {}
    keys = {a.key_env: a.name for a in accounts}
    problems = []
    for account in accounts:
        name = account.webhook_secret_env
        where = f"config [accounts.{account.name}] webhook_secret_env = {name!r}"
        if name in keys:
            problems.append(f"{where}: that variable holds the API key of account "
                            f"{keys[name]}; name another")
        elif name in owners:
            problems.append(f"{where}: account {owners[name]} reads its webhook secret "
                            "there already; each account has a secret of its own (set "
                            "webhook_secret_env to tell them apart)")
        owners.setdefault(name, account.name)
    return problems


def webhooks_problems(settings: WebhooksSettings) -> list[str]:
    """What is wrong with the [webhooks] values that a type alone does not rule out."""
    problems = []
    if settings.port > 65_535:
        problems.append(f"config [webhooks] port = {settings.port}: expected 1-65535")
    if not 1_024 <= settings.max_body_bytes <= 16 * 1024 * 1024:
        problems.append(f"config [webhooks] max_body_bytes = {settings.max_body_bytes}: "
                        "expected 1024 to 16777216 (PIK's events are a few hundred bytes)")
    if settings.segment_seconds < 1:
        problems.append(f"config [webhooks] segment_seconds = {settings.segment_seconds}: "
                        "expected at least 1")
    return problems

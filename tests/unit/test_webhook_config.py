"""Each account's webhook secret variable, and the [webhooks] settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from pik_recon.config import Config, load_config
from pik_recon.errors import ConfigError


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_config(config_path=str(path), env=env or {})


def test_the_one_account_reads_pik_webhook_secret_and_capture_is_on_when_it_is_set(
        tmp_path: Path) -> None:
    off = load_config(env={})
    assert (off.accounts[0].webhook_secret_env, off.capturing) == ("PIK_WEBHOOK_SECRET", ())
    on = load_config(env={"PIK_WEBHOOK_SECRET": "whsec_one"})
    (account,) = on.capturing
    assert (account.name, account.webhook_secret.reveal()) == ("default", "whsec_one")
    assert "whsec_one" not in repr(on)


def test_named_accounts_default_to_a_variable_of_their_own(tmp_path: Path) -> None:
    config = _load(tmp_path, '[accounts.brand-a]\nkey_env = "K_A"\n[accounts.default]\n'
                             'key_env = "PIK_API_KEY"\n[accounts.south]\nkey_env = "K_S"\n'
                             'webhook_secret_env = "SOUTH_HOOKS"\n',
                   {"PIK_WEBHOOK_SECRET_BRAND_A": "whsec_a", "SOUTH_HOOKS": "whsec_s"})
    assert [(a.name, a.webhook_secret_env) for a in config.accounts] == [
        ("brand-a", "PIK_WEBHOOK_SECRET_BRAND_A"), ("default", "PIK_WEBHOOK_SECRET"),
        ("south", "SOUTH_HOOKS")]
    assert [(a.name, a.webhook_secret.reveal()) for a in config.capturing] == [
        ("brand-a", "whsec_a"), ("south", "whsec_s")]


@pytest.mark.parametrize(("text", "message"), [
    ('[accounts.a]\nkey_env = "K_A"\nwebhook_secret_env = "S"\n[accounts.b]\nkey_env = "K_B"\n'
     'webhook_secret_env = "S"\n', "[accounts.b] webhook_secret_env = 'S': account a reads its "
                                   "webhook secret there already"),
    # brand-a and brand_a would both default to PIK_WEBHOOK_SECRET_BRAND_A
    ('[accounts.brand-a]\nkey_env = "K_A"\n[accounts.brand_a]\nkey_env = "K_B"\n',
     "[accounts.brand_a] webhook_secret_env = 'PIK_WEBHOOK_SECRET_BRAND_A': account brand-a"),
    ('[accounts.a]\nkey_env = "K_A"\n[accounts.b]\nkey_env = "K_B"\nwebhook_secret_env = "K_A"\n',
     "[accounts.b] webhook_secret_env = 'K_A': that variable holds the API key of account a"),
    ('[accounts.a]\nkey_env = "K_A"\nwebhook_secret_env = "whsec_123 oops"\n',
     "[accounts.a] webhook_secret_env = 'whsec_123 oops': expected the name of the "
     "environment variable"),
    ("[webhooks]\nport = 70000\n", "config [webhooks] port = 70000: expected 1-65535"),
    ("[webhooks]\nmax_body_bytes = 10\n", "config [webhooks] max_body_bytes = 10: expected"),
    ("[webhooks]\nsegment_seconds = 0.5\n", "[webhooks] segment_seconds = 0.5: expected at"),
    ("[webhooks]\nspool = 'x'\n", "config [webhooks] has unknown key 'spool'; allowed: host, "
                                  "max_body_bytes, port, segment_seconds, spool_dir"),
])
def test_bad_webhook_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_the_spool_is_beside_the_warehouse_unless_configured(tmp_path: Path) -> None:
    assert load_config(env={}, db="data/wh.duckdb").spool_dir == Path("data/wh.webhooks")
    assert _load(tmp_path, '[webhooks]\nspool_dir = "/srv/spool"\n').spool_dir == Path(
        "/srv/spool")

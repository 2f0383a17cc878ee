"""Config precedence (option > environment > file > default) and clear errors."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from pik_recon.cli import main
from pik_recon.config import _SECTIONS, DEFAULT_BASE_URL, load_config
from pik_recon.errors import ConfigError


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.pik.base_url == DEFAULT_BASE_URL
    assert config.pik.rate_limit_per_minute == 300
    assert config.pik.create_rate_limit_per_minute == 60
    assert str(config.db_path) == "pik_recon.duckdb"
    assert config.api_key is None


def test_option_beats_environment_beats_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('db = "file.duckdb"\n[pik]\nbase_url = "https://file.example/v1"\n'
                    "concurrency = 3\n")
    env = {"PIK_RECON_CONFIG": str(path), "PIK_RECON_DB": "env.duckdb",
           "PIK_BASE_URL": "https://env.example/v1"}
    from_env = load_config(env=env)
    assert (str(from_env.db_path), from_env.pik.base_url) == ("env.duckdb",
                                                               "https://env.example/v1")
    assert from_env.pik.concurrency == 3
    from_options = load_config(env=env, db="opt.duckdb", base_url="https://opt.example/v1",
                               overrides={"pik": {"rate_limit_enabled": False}})
    assert (str(from_options.db_path), from_options.pik.base_url) == (
        "opt.duckdb", "https://opt.example/v1")
    assert not from_options.pik.rate_limit_enabled  # options of [pik] keep the base URL's
    from_file = load_config(env={"PIK_RECON_CONFIG": str(path)})
    assert (str(from_file.db_path), from_file.pik.base_url) == ("file.duckdb",
                                                                 "https://file.example/v1")


@pytest.mark.parametrize(("text", "message"), [
    ("[pik]\nconcurency = 3\n", "config [pik] has unknown key 'concurency'; allowed: "),
    ("[pik]\nconcurrency = 0\n", "config [pik] concurrency = 0: expected a positive whole"),
    ("[pik]\nrate_limit_enabled = 'yes'\n", "expected true or false"),
    ("[pick]\n", "config has unknown key 'pick'"),
    ("[pik\n", "config file "),
    ("[matching.tolerance]\nBTC = 0.00000001\n", "[matching.tolerance] BTC = 1e-08: expected"),
    ('[accounts.Brand]\nkey_env = "K"\n', "[accounts.Brand]: an account name is 1-40 lower"),
    ("[accounts.a]\nbase_url = 'https://x.example/v1'\n", "[accounts.a] needs key_env"),
    ('[accounts.a]\nkey_env = "sk_live_123 oops"\n', "expected the name of the environment"),
    ('[accounts.a]\nkey_env = "K"\n[accounts.b]\nkey_env = "K"\n',
     "account a reads its key there already"),
    ('[accounts.a]\nkey_env = "K"\napi_key = "x"\n', "[accounts.a] has unknown key 'api_key'"),
    ('[accounts.a]\nkey_env = "K"\nconcurrency = 0\n',
     "[accounts.a] concurrency = 0: expected a positive whole"),
    ('[accounts.a]\nkey_env = "K"\n[accounts.a.orders]\ndelimiter = "x"\n',
     "config [accounts.a.orders] delimiter = 'x': expected one of"),
    ('[accounts.a]\nkey_env = "K"\n[accounts.a.orders.columns]\ntotal = "Sum"\n',
     "config [accounts.a.orders.columns] has unknown field 'total'"),
    ('[orders.status_map]\n"Paid" = "paid"\n"paid " = "paid"\n',
     "config [orders.status_map] has the shop value 'Paid' twice, also as 'paid '"),
    ('[matching.tolerance]\nUSDT = "0.01"\nusdt = "0.01"\n',
     "config [matching.tolerance] has the currency 'USDT' twice, also as 'usdt'"),
    ('[orders.columns]\ncurrency = ""\n',
     "config [orders.columns] currency = '': every order needs its currency"),
    ('[orders.columns]\norder_id = "  "\n',
     "config [orders.columns] order_id = '  ': every order needs its order_id"),
    ("accounts = 3\n", "[accounts] must hold one table per account"),
    ("[reconcile]\nsettlement_hours = 0\n",
     "config [reconcile] settlement_hours = 0: expected a positive whole number"),
    ("[reconcile]\nwebhook_grace_hours = 1.5\n",
     "config [reconcile] webhook_grace_hours = 1.5: expected a positive whole number"),
    ("[reconcile]\nsettle_hours = 4\n", "config [reconcile] has unknown key 'settle_hours'"),
    ("[sync]\nmax_vanished = -1\n", "config [sync] max_vanished = -1: expected a whole number"),
    ("[sync]\nmax_vanished = 2.5\n", "config [sync] max_vanished = 2.5: expected a whole"),
    ("[sync]\nmax_vanished = true\n", "config [sync] max_vanished = True: expected a whole"),
    ("[pik]\nmax_retry_after_seconds = -1\n",
     "config [pik] max_retry_after_seconds = -1: expected a number of seconds >= 0"),
])
def test_bad_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(config_path=str(path), env={})
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_reconcile_settings_and_capture_per_account(tmp_path: Path) -> None:
    """[reconcile]: 24 and 6 hours unless the file says; capture is on for the accounts
    whose webhook secret variable is set (SPEC §6)."""
    assert (load_config(env={}).reconcile.settlement_hours,
            load_config(env={}).reconcile.webhook_grace_hours) == (24, 6)
    path = tmp_path / "c.toml"
    path.write_text("[reconcile]\nsettlement_hours = 48\nwebhook_grace_hours = 2\n"
                    '[accounts.a]\nkey_env = "KA"\n[accounts.b]\nkey_env = "KB"\n')
    config = load_config(config_path=str(path), env={"PIK_WEBHOOK_SECRET_B": "whsec_x"})
    assert (config.reconcile.settlement_hours, config.reconcile.webhook_grace_hours) == (48, 2)
    assert (config.capture_on("a"), config.capture_on("b")) == (False, True)
    assert load_config(env={"PIK_WEBHOOK_SECRET": "whsec_y"}).capture_on("default")


def test_max_vanished_may_be_zero_and_max_retry_after_is_seconds(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[sync]\nmax_vanished = 0\n[pik]\nmax_retry_after_seconds = 30\n")
    config = load_config(config_path=str(path), env={})
    assert (config.sync.max_vanished, config.pik.max_retry_after_seconds) == (0, 30.0)
    defaults = load_config(env={})
    assert (defaults.sync.max_vanished, defaults.pik.max_retry_after_seconds) == (10, 300.0)


def test_key_is_hidden_in_repr() -> None:
    config = load_config(env={"PIK_API_KEY": "sk_live_secret"})
    assert "sk_live_secret" not in repr(config)
    assert config.require_api_key().reveal() == "sk_live_secret"


def test_only_durations_are_float_settings() -> None:
    floats = [(name, f.name) for name, section in _SECTIONS.items()
              for f in dataclasses.fields(section) if f.type == "float"]
    assert floats  # the check below looks at something
    assert [(name, key) for name, key in floats if not key.endswith("_seconds")] == []


ACCOUNTS = """[pik]
rate_limit_per_minute = 100
[orders]
delimiter = ","
[accounts.brand-a]
key_env = "PIK_KEY_A"
[accounts.brand-b]
key_env = "PIK_KEY_B"
base_url = "https://eu.pik.example/v1"
concurrency = 2
[accounts.brand-b.orders]
delimiter = ";"
"""


def test_accounts_each_have_their_key_and_settings(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(ACCOUNTS)
    env = {"PIK_KEY_A": "sk_a", "PIK_KEY_B": "sk_b", "PIK_API_KEY": "sk_unused",
           "PIK_BASE_URL": "https://env.example/v1"}
    config = load_config(config_path=str(path), env=env)
    a, b = config.scoped()
    assert config.account_names == ("brand-a", "brand-b")
    assert (a.account, a.api_key.reveal(), a.key_env) == ("brand-a", "sk_a", "PIK_KEY_A")
    assert (b.account, b.api_key.reveal(), b.key_env) == ("brand-b", "sk_b", "PIK_KEY_B")
    # an account's own base_url is its own; the others take the environment's
    assert (a.pik.base_url, b.pik.base_url) == ("https://env.example/v1",
                                               "https://eu.pik.example/v1")
    assert (a.pik.concurrency, b.pik.concurrency) == (8, 2)
    assert a.pik.rate_limit_per_minute == b.pik.rate_limit_per_minute == 100
    assert (a.orders.delimiter, b.orders.delimiter) == (",", ";")
    assert [c.account for c in config.scoped(["brand-b"])] == ["brand-b"]
    options = load_config(config_path=str(path), env=env,
                          overrides={"pik": {"concurrency": 5}})
    assert [c.pik.concurrency for c in options.scoped()] == [5, 5]  # the option wins


def test_no_accounts_section_is_one_default_account() -> None:
    config = load_config(env={"PIK_API_KEY": "sk_live"})
    (only,) = config.scoped()
    assert (only.account, only.key_env, only.api_key.reveal()) == ("default", "PIK_API_KEY",
                                                                   "sk_live")


def test_an_unknown_account_is_named_with_those_there_are(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(ACCOUNTS)
    config = load_config(config_path=str(path), env={})
    with pytest.raises(ConfigError, match=r"--account brand-c: no such account; configured: "
                                          r"brand-a, brand-b"):
        config.scoped(["brand-a", "brand-c"])
    with pytest.raises(ConfigError, match=r"No PIK API key for account brand-b\. Set it in "
                                          r"the environment, e\.g\. `export PIK_KEY_B=\.\.\.`"):
        config.for_account("brand-b").require_api_key()


THREE_MISTAKES = """[pik]
concurrency = 0
[orders]
timezone = "Mars/Olympus"
[accounts.brand-a]
key_env = "K_A"
[accounts.brand-b]
key_env = "K_B"
[accounts.brand-b.orders]
delimiter = "x"
"""


def test_every_mistake_of_a_config_is_named_at_once(tmp_path: Path) -> None:
    path = tmp_path / "three.toml"
    path.write_text(THREE_MISTAKES)
    with pytest.raises(ConfigError) as caught:
        load_config(config_path=str(path), env={})
    lines = str(caught.value).splitlines()
    assert lines == [
        f"{path}: 3 problem(s), nothing was run:",
        f"  {path}: config [pik] concurrency = 0: expected a positive whole number",
        f"  {path}: config [orders] timezone = 'Mars/Olympus': not a time zone; use a name "
        "such as \"UTC\" or \"Europe/Berlin\"",
        f"  {path}: config [accounts.brand-b.orders] delimiter = 'x': expected one of 'auto', "
        "',', ';', '\\t', '|'",
    ]  # the accounts inherit [pik] and [orders]: their mistakes are named once, there
    assert caught.value.exit_code == 2


def test_a_command_names_every_mistake_and_runs_nothing(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    path = tmp_path / "three.toml"
    path.write_text(THREE_MISTAKES)
    db = tmp_path / "wh.duckdb"
    umask = os.umask(0o022)  # main() sets its own; the test process gets its own back
    try:
        with pytest.raises(SystemExit) as done:
            main(["--config", str(path), "--db", str(db), "status"])
    finally:
        os.umask(umask)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {path}: 3 problem(s), nothing was run:\n")
    assert err.count(f"  {path}: config [") == 3
    assert not db.exists()



def test_equivalent_currencies_that_share_one_are_one_group(tmp_path: Path) -> None:
    """USD = USDT and USD = USDC make USDT = USDC too: one group, each currency once (a
    currency in two groups counted a link's money twice)."""
    path = tmp_path / "c.toml"
    path.write_text('[matching]\nequivalent_currencies = [["USD", "usdt"], ["EUR", "EURC"], '
                    '["usdc", "USD", "USDC"]]\n')
    assert load_config(config_path=str(path), env={}).matching.equivalent_currencies == (
        ("EUR", "EURC"), ("USD", "USDC", "USDT"))

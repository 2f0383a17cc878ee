"""Config precedence (option > environment > file > default) and clear errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

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
    from_options = load_config(env=env, db="opt.duckdb", base_url="https://opt.example/v1")
    assert (str(from_options.db_path), from_options.pik.base_url) == (
        "opt.duckdb", "https://opt.example/v1")
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
])
def test_bad_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(config_path=str(path), env={})
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_key_is_hidden_in_repr() -> None:
    config = load_config(env={"PIK_API_KEY": "sk_live_secret"})
    assert "sk_live_secret" not in repr(config)
    assert config.require_api_key().reveal() == "sk_live_secret"


def test_only_durations_are_float_settings() -> None:
    floats = [(name, f.name) for name, section in _SECTIONS.items()
              for f in dataclasses.fields(section) if f.type == "float"]
    assert floats  # the check below looks at something
    assert [(name, key) for name, key in floats if not key.endswith("_seconds")] == []

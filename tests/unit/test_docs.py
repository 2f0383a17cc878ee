"""The README documents every command, every config key and every exit code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from pik_recon.cli import cli
from pik_recon.config import (
    JobsSettings,
    MatchingSettings,
    NotifySettings,
    OrdersSettings,
    PikSettings,
    ReportSettings,
    SyncSettings,
)

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "pik-recon") -> list[str]:
    names = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            names += _commands(command, f"{prefix} {name}")
        else:
            names.append(f"{prefix} {name}")
    return names


def test_every_command_is_in_the_readme() -> None:
    missing = [name for name in _commands(cli) if f"`{name}" not in README]
    assert missing == []


def test_every_config_key_is_in_the_readme() -> None:
    for settings in (PikSettings, SyncSettings, OrdersSettings, MatchingSettings,
                     ReportSettings, NotifySettings, JobsSettings):
        for item in dataclasses.fields(settings):
            if item.name in ("columns", "status_map", "tolerance"):
                assert f"[{settings.__name__[:-8].lower()}.{item.name}]" in README
            else:
                assert f"\n{item.name} = " in README, item.name


def test_every_exit_code_is_in_the_readme() -> None:
    for code in range(6):
        assert f"\n| {code} | " in README


def test_every_command_has_an_example_in_its_help() -> None:
    def walk(group: click.Group) -> list[click.Command]:
        found: list[click.Command] = []
        for command in group.commands.values():
            found += walk(command) if isinstance(command, click.Group) else [command]
        return found
    assert [c.name for c in walk(cli) if "Example:" not in (c.help or "")] == []

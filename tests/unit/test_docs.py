"""The README documents every command, every config key and every exit code."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
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
    WebhooksSettings,
)

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "pik-recon") -> list[str]:
    names = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None and command.name == name  # every lazy entry resolves
        if isinstance(command, click.Group):
            names += _commands(command, f"{prefix} {name}")
        else:
            names.append(f"{prefix} {name}")
    return names


def _undocumented(readme: str) -> list[str]:
    return [name for name in _commands(cli) if f"`{name}" not in readme]


def test_every_command_is_in_the_readme() -> None:
    commands = _commands(cli)
    assert "pik-recon links create" in commands and "pik-recon sandbox serve" in commands
    assert len(commands) >= 11  # the walk reached them all, not an empty dict
    assert _undocumented(README) == []


def test_a_command_missing_from_the_readme_is_found() -> None:
    without = README.replace("`pik-recon orders load", "`pik-recon orders import")
    assert _undocumented(without) == ["pik-recon orders load"]


def test_every_config_key_is_in_the_readme() -> None:
    for settings in (PikSettings, SyncSettings, OrdersSettings, MatchingSettings,
                     ReportSettings, NotifySettings, JobsSettings, WebhooksSettings):
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
        context = click.Context(group)
        for name in group.list_commands(context):  # the lazy group's commands, resolved
            command = group.get_command(context, name)
            assert command is not None
            found += walk(command) if isinstance(command, click.Group) else [command]
        return found
    commands = walk(cli)
    assert len(commands) >= 11  # the walk reached them all, not an empty dict
    assert [c.name for c in commands if "Example:" not in (c.help or "")] == []


def test_sync_creation_and_reconcile_start_without_pandas_or_the_scheduler() -> None:
    """Start-up is part of every command's time: sync, bulk creation, orders load and
    reconcile never need pandas (reports) or APScheduler (jobs)."""
    probe = ("import json, sys, click; from pik_recon.cli import cli; ctx = click.Context(cli); "
             "[cli.get_command(ctx, n) for n in ('sync', 'links', 'orders', 'reconcile')]; "
             "print(json.dumps(sorted(m for m in ('pandas', 'apscheduler', 'pik_recon.cli.sync', "
             "'pik_recon.cli.links', 'pik_recon.cli.recon', 'pik_recon.cli.report') "
             "if m in sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout
    assert json.loads(loaded) == ["pik_recon.cli.links", "pik_recon.cli.recon",
                                  "pik_recon.cli.sync"]

"""Start-up: `pik-recon --help` and each command's own start load none of the heavy libraries
(those are the seconds); the command table lists each command with its own one-line help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import click

from pik_recon.cli import COMMANDS, cli

# `_duckdb` is DuckDB's engine: the `duckdb` package may be bound, lazily, before it runs
HEAVY = ("pandas", "numpy", "pyarrow", "_duckdb", "httpx", "aiohttp", "apscheduler",
         "xlsxwriter", "jinja2", "openpyxl", "rich", "asyncio")
LOADED = f"import sys; print(__import__('json').dumps(sorted(set({HEAVY!r}) & set(sys.modules))))"


def _loaded_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after running `code`."""
    done = subprocess.run([sys.executable, "-c", f"{code}\n{LOADED}"], capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_the_table_lists_each_command_with_its_own_one_line_help() -> None:
    context = click.Context(cli)
    assert len(COMMANDS) == 13
    for name, (_, line) in COMMANDS.items():
        command = cli.get_command(context, name)
        assert command is not None, name
        assert command.get_short_help_str(10**6) == line, name


def test_help_lists_the_commands_without_importing_any() -> None:
    code = ("from pik_recon.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n"
            "    pass\nimport sys\nprint(sorted(m for m in sys.modules if m.startswith("
            "'pik_recon.cli.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert "  report     Write the finance reports for a period, from the warehouse...\n" in (
        done.stdout)
    assert done.stdout.splitlines()[-1] == "['pik_recon.cli.common']"


def test_help_and_every_commands_module_load_no_heavy_library() -> None:
    modules = sorted({target.partition(":")[0] for target, _ in COMMANDS.values()})
    assert len(modules) == 11
    code = ("from pik_recon.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n"
            "    pass\n" + "".join(f"import {m}\n" for m in modules))
    assert _loaded_after(code) == []


def test_status_of_a_missing_warehouse_fails_before_duckdb_starts(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.duckdb"
    code = (f"from pik_recon.cli import main\ntry:\n    main(['--db', {str(missing)!r}, "
            "'status'])\nexcept SystemExit as exc:\n    print('exit', exc.code)")
    done = subprocess.run([sys.executable, "-c", f"{code}\n{LOADED}"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PIK_API_KEY": ""})
    assert f"warehouse {missing} does not exist yet" in done.stderr
    assert done.stdout.splitlines() == ["exit 2", "[]"]


def test_the_console_script_shows_help_within_a_second() -> None:
    script = Path(sys.executable).parent / "pik-recon"
    subprocess.run([script, "--help"], capture_output=True, check=True, timeout=60)  # warm
    started = time.perf_counter()
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - started
    assert done.returncode == 0
    assert seconds < 1.0, f"pik-recon --help took {seconds:.2f} s"

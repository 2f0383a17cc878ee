"""jobs/: the crontab line and the systemd units the README tells operators to install."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger

from pik_recon.jobs.definition import find_job

JOBS = Path(__file__).resolve().parents[2] / "jobs"
NIGHTLY = find_job("nightly", JOBS)


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((JOBS / name).read_text(encoding="utf-8"))
    return parser


def _crontab() -> tuple[dict[str, str], list[str]]:
    lines = [line for line in (JOBS / "crontab.example").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    variables = dict(line.split("=", 1) for line in lines if "=" in line.split()[0])
    entries = [line for line in lines if "=" not in line.split()[0]]
    return variables, entries


def test_the_crontab_line_fires_when_the_job_says_in_its_time_zone() -> None:
    variables, entries = _crontab()
    assert len(entries) == 1
    fields = entries[0].split(maxsplit=5)
    assert " ".join(fields[:5]) == NIGHTLY.cron
    assert variables["CRON_TZ"] == NIGHTLY.timezone
    CronTrigger.from_crontab(" ".join(fields[:5]))  # five valid fields


def test_the_crontab_command_reads_the_key_file_retries_exit_4_and_logs_where_a_user_may(
        tmp_path: Path) -> None:
    _, entries = _crontab()
    command = entries[0].split(maxsplit=5)[5]
    assert '. "$HOME/.config/pik-recon/env"' in command
    assert "/var/log" not in command and '"$HOME/.local/state/pik-recon/' in command
    assert "--log-format json run nightly" in command
    # run it as cron would, with a stand-in for pik-recon that fails with 4 twice
    home, project = tmp_path, tmp_path / "pik-recon"
    (home / ".config" / "pik-recon").mkdir(parents=True)
    (home / ".config" / "pik-recon" / "env").write_text("PIK_API_KEY=sk_from_the_file\n")
    (project / ".venv" / "bin").mkdir(parents=True)
    stand_in = project / ".venv" / "bin" / "pik-recon"
    stand_in.write_text('#!/bin/sh\necho "try with $PIK_API_KEY" >> "$HOME/tries"\n'
                        'n=$(wc -l < "$HOME/tries"); [ "$n" -lt 3 ] && exit 4; exit 1\n')
    stand_in.chmod(0o755)
    quick = command.replace("sleep 900", "sleep 0")
    done = subprocess.run(["sh", "-c", quick], env={"HOME": str(home), "PATH": os.environ["PATH"]},
                          capture_output=True, text=True, timeout=60, umask=0o022)
    assert done.returncode == 0, done.stderr
    assert (home / "tries").read_text().splitlines() == ["try with sk_from_the_file"] * 3
    log = home / ".local" / "state" / "pik-recon" / "nightly.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600  # under cron's usual umask 022
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_the_timer_fires_when_the_job_says_in_its_time_zone() -> None:
    timer = _unit("pik-recon-nightly.timer")
    minute, hour = NIGHTLY.cron.split()[:2]
    assert timer["Timer"]["OnCalendar"] == (
        f"*-*-* {int(hour):02d}:{int(minute):02d}:00 {NIGHTLY.timezone}")
    assert timer["Timer"]["Persistent"] == "true"


def test_the_service_retries_only_what_is_temporary() -> None:
    service = _unit("pik-recon-nightly.service")["Service"]
    assert service["SuccessExitStatus"] == "1"
    assert service["Restart"] == "on-failure"
    assert set(service["RestartPreventExitStatus"].split()) == {"2", "3", "5"}
    assert service["EnvironmentFile"] == "%h/.config/pik-recon/env"  # the crontab's file
    assert service["UMask"] == "0077"
    assert shlex.split(service["ExecStart"])[1:] == ["--log-format", "json", "run", "nightly"]


def test_the_receiver_service_reads_the_nightly_env_file_and_restarts_but_not_on_exit_2(
        ) -> None:
    service = _unit("pik-recon-webhooks.service")
    nightly = _unit("pik-recon-nightly.service")["Service"]
    assert service["Service"]["EnvironmentFile"] == nightly["EnvironmentFile"]
    assert service["Service"]["WorkingDirectory"] == nightly["WorkingDirectory"]
    assert shlex.split(service["Service"]["ExecStart"])[1:] == [
        "--log-format", "json", "webhooks", "serve"]
    assert service["Service"]["Restart"] == "always"
    assert service["Service"]["RestartPreventExitStatus"].split() == ["2"]
    assert service["Service"]["UMask"] == "0077"
    assert service["Install"]["WantedBy"] == "default.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed; the unit files are parsed above")
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    """%h is the user's home in a user unit; here it is a folder holding the files the units
    name, so that verify checks everything else."""
    home = tmp_path / "home"
    executable = home / "pik-recon" / ".venv" / "bin" / "pik-recon"
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    (home / ".config" / "pik-recon").mkdir(parents=True)
    (home / ".config" / "pik-recon" / "env").write_text("PIK_API_KEY=x\n")
    names = ("pik-recon-nightly.service", "pik-recon-nightly.timer",
             "pik-recon-webhooks.service")
    for name in names:
        text = (JOBS / name).read_text(encoding="utf-8").replace("%h", str(home))
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in names)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

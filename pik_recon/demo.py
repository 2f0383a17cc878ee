"""The demo: a sandbox on a free loopback port, seeded from sample_data/, and the nightly
job (sync, reconcile the sample orders, report, notify) run on it end to end.

It reconciles as of the time the sample data was planted for (sample_data/dataset.json) and
reports the year up to then, so its findings and figures are those the data was built to
have (expected_findings.csv, expected_figures.json), whatever the machine's clock says.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from pik_recon.config import DEFAULT_ACCOUNT, DEFAULT_KEY_ENV, Account, Secret, load_config
from pik_recon.errors import UsageError
from pik_recon.jobs.definition import Job, Step
from pik_recon.jobs.runner import JobResult, run_job
from pik_recon.jobs.steps import RUNNERS
from pik_recon.paths import ensure_folder
from pik_recon.sandbox import sample_sandbox
from pik_recon.warehouse import Warehouse, resource_dir

DEMO_PERIOD = timedelta(days=365)


def sample_as_of() -> datetime:
    """The time sample_data/ was planted for: its ages and figures hold then."""
    dataset = json.loads((resource_dir("sample_data") / "dataset.json").read_text(
        encoding="utf-8"))
    return datetime.fromisoformat(dataset["as_of"])


def demo_job(out: Path) -> Job:
    """The nightly job's steps, pointed at sample_data/ and the demo folder, as of the time
    the sample was planted for."""
    folder = resource_dir("sample_data")
    as_of = sample_as_of()
    return Job("demo", None, "30 2 * * *", "UTC", (
        Step("sync", {}),
        Step("reconcile", {"orders": str(folder / "orders.csv"), "as_of": as_of.isoformat()}),
        Step("report", {"since": (as_of - DEMO_PERIOD).isoformat(), "until": as_of.isoformat(),
                        "out": str(out), "fail_on": "never"}),
        Step("notify", {"when": ["failure"]}),
    ), "the nightly job on the embedded sandbox")


def _require_nothing_to_lose(warehouse: Path) -> None:
    """The demo starts from a new warehouse: one already there is replaced only when it
    is a demo's, holding nothing a person wrote (acknowledgements)."""
    if not warehouse.exists():
        return
    with Warehouse.open(warehouse, read_only=True) as held:
        acks = held.fetchone("SELECT count(*) FROM finding_acks")
    if acks and acks[0]:
        raise UsageError(f"{warehouse} holds {acks[0]} acknowledgement(s), which the demo "
                         "would lose: it starts from a new warehouse. Move the file away or "
                         "give --out another folder")


def run_demo(out: Path, config_path: str | None = None) -> JobResult:
    ensure_folder(out, "--out")
    warehouse = out / "warehouse.duckdb"
    _require_nothing_to_lose(warehouse)
    warehouse.unlink(missing_ok=True)
    key = "sk_demo_" + secrets.token_hex(8)
    with sample_sandbox(key) as base_url:
        config = load_config(config_path=config_path, db=str(warehouse), base_url=base_url,
                             env={"PIK_API_KEY": key})
        # one account, the sandbox's, whatever accounts the config file names
        demo = Account(DEFAULT_ACCOUNT, DEFAULT_KEY_ENV, replace(config.pik, base_url=base_url),
                       config.orders, Secret(key))
        config = replace(config, accounts=(demo,), account=DEFAULT_ACCOUNT, pik=demo.pik,
                         api_key=demo.api_key, notify=replace(config.notify, webhook_url=""))
        return run_job(config, demo_job(out), RUNNERS, trigger="demo")

"""`pik-recon sandbox ...`: the local PIK look-alike."""

from __future__ import annotations

import gc
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from pik_recon.cli.common import AppContext
from pik_recon.errors import UsageError
from pik_recon.paths import ensure_folder, writing
from pik_recon.sandbox.generate import SHAPES
from pik_recon.sandbox.state import (
    FAULT_KINDS,
    ORDERINGS,
    Faults,
    SandboxState,
    clock_offset,
    generate_links,
)

SHARE = click.FloatRange(0, 1)
PAYMENT_OPTIONS = (
    click.option("--tx-mix", default="default", show_default=True,
                 help="With --generate: the shares of the transactions' cases, as "
                      "case=share,... over the default mix (see the README), or none."),
    click.option("--transactions", "attempts", default=0, type=click.IntRange(0),
                 show_default=True, help="N more payment attempts on random links, for load."),
    click.option("--tx-drift", type=click.FloatRange(0),
                 help="Changes before every transactions list request (default: --drift)."),
    click.option("--settle-delay", default=3600.0, type=click.FloatRange(0),
                 show_default=True, help="Sandbox seconds from confirmed to settled."),
    click.option("--hidden-transactions", default=0, type=click.IntRange(0),
                 show_default=True,
                 help="Transactions left out of every list page but counted in its total."),
    click.option("--webhook-clock", default=1.0, type=click.FloatRange(0, min_open=True),
                 show_default=True,
                 help="Webhook-clock seconds per real second (retries come sooner)."),
    click.option("--webhook-timeout", default=10.0, type=click.FloatRange(0, min_open=True),
                 show_default=True, help="Real seconds an endpoint has to answer 200."),
    click.option("--webhook-lost", default=0.0, type=SHARE, show_default=True,
                 help="Share of webhook deliveries never sent."),
    click.option("--webhook-duplicate", default=0.0, type=SHARE, show_default=True,
                 help="Share of delivered webhooks sent a second time."),
    click.option("--webhook-out-of-order", default=0.0, type=SHARE, show_default=True,
                 help="Share of webhooks held back until a later one has gone out."),
    click.option("--webhook-bad-signature", default=0.0, type=SHARE, show_default=True,
                 help="Share of webhooks signed with the wrong key."),
)


def payment_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(PAYMENT_OPTIONS):
        command = option(command)
    return command


@click.group()
def sandbox() -> None:
    """The local PIK sandbox, for trying pik-recon without a key and for tests."""


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address only.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--api-key", envvar="PIK_API_KEY", default="sk_sandbox_demo",
              show_default="$PIK_API_KEY or sk_sandbox_demo", help="The key it accepts.")
@click.option("--seed-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON-lines links to start with (default: sample_data/links.jsonl).")
@click.option("--generate", type=click.IntRange(0), help="Start with N generated links instead.")
@click.option("--active-share", type=click.FloatRange(0, 1),
              help="With --generate: this share of the links active and never expiring, of "
                   "any age (most links otherwise expire three days after creation).")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--fault-rate", default=0.0, type=click.FloatRange(0, 1), show_default=True,
              help="Share of requests that fail.")
@click.option("--faults", "fault_kinds", default=",".join(FAULT_KINDS), show_default=True,
              help="Comma-separated fault kinds to draw from.")
@click.option("--retry-after", default=1, type=click.IntRange(0), show_default=True,
              help="The Retry-After seconds of the 429 fault (86400: PIK asks for a day).")
@click.option("--latency-ms", default=0, type=click.IntRange(0), show_default=True,
              help="Extra milliseconds before every answer.")
@click.option("--drift", default=0.0, type=click.FloatRange(0), show_default=True,
              help="Changes (new links, status changes) before every list request, for as "
                   "long as it runs; 0.1 is one change every tenth request.")
@click.option("--ordering", type=click.Choice(ORDERINGS), default="newest", show_default=True,
              help="The order of list pages; shuffled is a new order for every request.")
@click.option("--hidden", default=0, type=click.IntRange(0), show_default=True,
              help="Links left out of every list page but counted in its total (a broken "
                   "PIK, to see a sync refuse to call itself complete).")
@click.option("--clock-offset", "clock_offset_seconds", default=0.0, type=float,
              show_default=True, metavar="SECONDS",
              help="PIK's clock this many seconds ahead of ours (negative: behind); it "
                   "stamps created_at and paid_at with it.")
@click.option("--no-rate-limit", is_flag=True, help="Do not enforce 300/min and 60/min.")
@payment_options
@click.pass_obj
def serve(app: AppContext, host: str, port: int, api_key: str, seed_file: Path | None,
          generate: int | None, active_share: float | None, seed: int, fault_rate: float,
          fault_kinds: str, retry_after: int, latency_ms: int, drift: float, ordering: str,
          hidden: int, clock_offset_seconds: float, no_rate_limit: bool, **payments: Any
          ) -> None:
    """Serve the PIK API on loopback, with admin endpoints under /_admin.

    \b
    Example:
      pik-recon sandbox serve --generate 20000 --fault-rate 0.1 --drift 50
      PIK_BASE_URL=http://127.0.0.1:8765/v1 PIK_API_KEY=sk_sandbox_demo pik-recon sync
    """
    from pik_recon.sandbox.payments import generate_attempts, generate_transactions, parse_mix
    from pik_recon.sandbox.seed import sample_links_path, seed_from_file
    from pik_recon.sandbox.server import SandboxServer, check_loopback

    try:
        check_loopback(host)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--host") from None
    kinds = tuple(k.strip() for k in fault_kinds.split(",") if k.strip())
    unknown = set(kinds) - set(FAULT_KINDS)
    if unknown:
        raise click.BadParameter(f"unknown fault kinds {sorted(unknown)}; choose from "
                                 f"{', '.join(FAULT_KINDS)}", param_hint="--faults")
    try:
        clock_offset(clock_offset_seconds)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--clock-offset") from None
    faults = Faults(rate=fault_rate, kinds=kinds, latency_ms=latency_ms,
                    retry_after_seconds=retry_after,
                    drift_per_request=drift, rate_limit_enabled=not no_rate_limit,
                    ordering=ordering, clock_offset_seconds=clock_offset_seconds)
    try:
        mix = parse_mix(payments["tx_mix"])
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--tx-mix") from None
    state = SandboxState(api_key=api_key, seed=seed, faults=faults)
    _set_payment_switches(state, payments)
    if generate is not None:
        generate_links(state, generate, active_share=active_share)
        if mix is not None:
            generate_transactions(state, state.links.values(), mix)
    else:
        seed_from_file(state, seed_file or sample_links_path())
    generate_attempts(state, payments["attempts"])
    state.set_hidden(hidden)
    state.transactions.set_hidden(payments["hidden_transactions"])
    gc.freeze()  # what was seeded lives as long as the process: no collection walks it
    server = SandboxServer(state, host, port).start()
    app.out.line(f"PIK sandbox on {server.base_url} with {len(state.links)} links and "
                 f"{len(state.transactions.by_id)} transactions (admin: {server.admin_url}); "
                 "Ctrl-C to stop.")
    import asyncio  # the server's loop only: not for --help

    try:
        asyncio.run(_wait_for_signal())
    finally:
        server.stop()


def _set_payment_switches(state: SandboxState, options: dict[str, Any]) -> None:
    state.transactions.settings.tx_drift_per_request = options["tx_drift"]
    state.transactions.settings.settle_delay_seconds = options["settle_delay"]
    state.webhooks.set_speed(options["webhook_clock"])
    hooks = state.webhooks.settings
    hooks.webhook_timeout_seconds = options["webhook_timeout"]
    hooks.webhook_lost = options["webhook_lost"]
    hooks.webhook_duplicate = options["webhook_duplicate"]
    hooks.webhook_out_of_order = options["webhook_out_of_order"]
    hooks.webhook_bad_signature = options["webhook_bad_signature"]


async def _wait_for_signal() -> None:
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@sandbox.command()
@click.option("--orders", "count", type=click.IntRange(1), required=True,
              help="How many cases (orders and orphan links) to plant.")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write into.")
@click.option("--shape", type=click.Choice(SHAPES),
              default="plain", show_default=True, help="How the orders CSV is written.")
@click.option("--as-of", "as_of", default="2026-11-20T12:00:00+00:00", show_default=True,
              help="The reconciliation time the ages are planted for.")
@click.option("--force", is_flag=True, help="Overwrite the files of an earlier data set in "
              "--out (without it, any of them there is refused and nothing is written).")
@click.pass_obj
def generate(app: AppContext, count: int, seed: int, out: Path, shape: str, as_of: str,
             force: bool) -> None:
    """Write a matched data set with every finding category planted at known counts.

    Files: links.jsonl and transactions.jsonl (a sandbox seed), webhook_events.jsonl (PIK's
    event bodies, to deliver signed), orders.csv, expected_findings.csv, expected_stakes.csv,
    pik-recon.toml (the orders mapping for the shape), expected_figures.json and
    dataset.json. A file of those already in --out is overwritten only with --force.

    \b
    Example:
      pik-recon sandbox generate --orders 10000 --seed 1 --out data/ --shape line-items
    """
    from datetime import datetime

    from pik_recon.sandbox.generate import DATASET_FILES, generate_dataset, write_dataset

    try:
        moment = datetime.fromisoformat(as_of)
    except ValueError:
        raise click.BadParameter(f"{as_of!r} is not an ISO 8601 time",
                                 param_hint="--as-of") from None
    there = [name for name in DATASET_FILES if (out / name).exists()]
    if there and not force:
        raise UsageError(f"--out {out} holds {', '.join(there)} already; nothing was written. "
                         "Choose another folder, or add --force to overwrite them")
    data = generate_dataset(count, seed, moment, card_orders=shape != "plain")
    ensure_folder(out, "--out")
    with writing(out, "--out"):
        write_dataset(data, shape, out)
    app.out.line(f"{out}: {len(data.orders)} orders, {len(data.links)} links, "
                 f"{len(data.transactions)} transactions, {len(data.events)} webhook events, "
                 f"{len(data.expected)} expected findings ({shape}).")

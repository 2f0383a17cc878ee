"""`pik-recon sandbox ...`: the local PIK look-alike."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from pik_recon.cli.common import AppContext
from pik_recon.sandbox.state import FAULT_KINDS, ORDERINGS, Faults, SandboxState, generate_links


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
@click.option("--no-rate-limit", is_flag=True, help="Do not enforce 300/min and 60/min.")
@click.pass_obj
def serve(app: AppContext, host: str, port: int, api_key: str, seed_file: Path | None,
          generate: int | None, active_share: float | None, seed: int, fault_rate: float,
          fault_kinds: str, retry_after: int,
          latency_ms: int, drift: float, ordering: str, hidden: int,
          no_rate_limit: bool) -> None:
    """Serve the PIK API on loopback, with admin endpoints under /_admin.

    \b
    Example:
      pik-recon sandbox serve --generate 20000 --fault-rate 0.1 --drift 50
      PIK_BASE_URL=http://127.0.0.1:8765/v1 PIK_API_KEY=sk_sandbox_demo pik-recon sync
    """
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
    faults = Faults(rate=fault_rate, kinds=kinds, latency_ms=latency_ms,
                    retry_after_seconds=retry_after,
                    drift_per_request=drift, rate_limit_enabled=not no_rate_limit,
                    ordering=ordering)
    state = SandboxState(api_key=api_key, seed=seed, faults=faults)
    if generate is not None:
        generate_links(state, generate, active_share=active_share)
    else:
        seed_from_file(state, seed_file or sample_links_path())
    state.set_hidden(hidden)
    server = SandboxServer(state, host, port).start()
    app.out.line(f"PIK sandbox on {server.base_url} with {len(state.links)} links "
                 f"(admin: {server.admin_url}); Ctrl-C to stop.")
    try:
        asyncio.run(_wait_for_signal())
    finally:
        server.stop()


async def _wait_for_signal() -> None:
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
@click.option("--shape", type=click.Choice(["plain", "line-items", "decimal-comma"]),
              default="plain", show_default=True, help="How the orders CSV is written.")
@click.option("--as-of", "as_of", default="2026-11-20T12:00:00+00:00", show_default=True,
              help="The reconciliation time the ages are planted for.")
@click.pass_obj
def generate(app: AppContext, count: int, seed: int, out: Path, shape: str, as_of: str) -> None:
    """Write a matched data set with every finding category planted at known counts.

    Files: links.jsonl (a sandbox seed), orders.csv, expected_findings.csv, pik-recon.toml
    (the orders mapping for the shape) and dataset.json.

    \b
    Example:
      pik-recon sandbox generate --orders 10000 --seed 1 --out data/ --shape line-items
    """
    from datetime import datetime

    from pik_recon.sandbox.generate import generate_dataset, write_dataset

    try:
        moment = datetime.fromisoformat(as_of)
    except ValueError:
        raise click.BadParameter(f"{as_of!r} is not an ISO 8601 time",
                                 param_hint="--as-of") from None
    data = generate_dataset(count, seed, moment, card_orders=shape != "plain")
    write_dataset(data, shape, out)
    app.out.line(f"{out}: {len(data.orders)} orders, {len(data.links)} links, "
                 f"{len(data.expected)} expected findings ({shape}).")

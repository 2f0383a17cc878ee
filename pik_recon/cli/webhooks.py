"""`pik-recon webhooks serve/load/register`: PIK's signed events, captured durably."""

from __future__ import annotations

from pathlib import Path

import click

from pik_recon.cli.common import AppContext, account_option
from pik_recon.errors import UsageError


@click.group()
def webhooks() -> None:
    """PIK's signed events: receive them durably, load them, register an endpoint."""


@webhooks.command()
@click.option("--host", help="Address to listen on (default: [webhooks] host, 127.0.0.1, "
              "behind your HTTPS reverse proxy).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: [webhooks] port, "
              "8766; 0 for any free one).")
@click.pass_obj
def serve(app: AppContext, host: str | None, port: int | None) -> None:
    """Receive PIK's events at POST /webhooks/ACCOUNT (POST /webhooks for `default`).

    Each delivery's PIK-Signature is checked with its account's secret (its
    webhook_secret_env, default PIK_WEBHOOK_SECRET); a signed event is answered 200 once it
    is fsynced to the spool, a bad or missing signature 401. It never opens the warehouse:
    `pik-recon sync` and `webhooks load` move the spool there.

    \b
    Example:
      PIK_WEBHOOK_SECRET=whsec_... pik-recon webhooks serve --port 8766
    """
    from pik_recon.webhooks.receiver import serve as receive

    config = app.config()
    receive(config, host or config.webhooks.host,
            config.webhooks.port if port is None else port, app.out.line)


@webhooks.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@account_option("Events of a FILE belong to the account")
@click.pass_obj
def load(app: AppContext, file: Path | None, accounts: tuple[str, ...]) -> None:
    """Move the receiver's spool into webhook_events, once per account and event id.

    FILE instead loads an events export from PIK's dashboard (JSON Lines, one event a line)
    into one account; nothing signs an export, so its events are stored unsigned.

    \b
    Example:
      pik-recon webhooks load
      pik-recon webhooks load events-2026-11.jsonl --account brand-a
    """
    from pik_recon.warehouse import Warehouse
    from pik_recon.webhooks.load import load_file, load_spool

    config = app.config()
    if file is None and accounts:
        raise UsageError("--account names the account of a FILE; the spool is loaded whole, "
                         "every account's events")
    account = app.one_config(accounts, f"{file}").account if file is not None else None
    with Warehouse.open(config.db_path) as warehouse:
        loaded = (load_spool(warehouse, config) if file is None or account is None
                  else load_file(warehouse, file, account))
    app.out.result("webhooks_load", {
        "file": str(file) if file else None, "segments": loaded.segments,
        "removed": loaded.removed, "left": loaded.left, "deliveries": loaded.deliveries,
        "stored": dict(loaded.new), "duplicates": loaded.duplicates, "torn": loaded.torn})
    if not app.out.json:
        source = str(file) if file else f"the spool {config.spool_dir}"
        text = loaded.summary() if file is None else (
            f"{loaded.stored:,} new webhook events stored (unsigned), {loaded.duplicates:,} "
            "already held")
        app.out.line(f"{source}: {text}")


@webhooks.command()
@click.argument("url")
@click.option("--events", "events", multiple=True, metavar="EVENT",
              help="An event to receive (repeat; default: payment.confirmed, "
                   "payment.settled and payment.failed).")
@click.option("--account", "accounts", multiple=True, metavar="NAME",
              help="The account to register it on (needed when the config has several).")
@click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Where the secret goes (default: pik-webhook-secret.ACCOUNT beside the "
                   "config file, else beside the warehouse).")
@click.option("--force", is_flag=True, help="Replace an existing secret file.")
@click.option("--allow-duplicate", is_flag=True,
              help="Register even when PIK has an endpoint for URL already.")
@click.pass_obj
def register(app: AppContext, url: str, events: tuple[str, ...], accounts: tuple[str, ...],
             secret_file: Path | None, force: bool, allow_duplicate: bool) -> None:
    """Register URL (your HTTPS reverse proxy) on PIK; its secret goes to an owner-only file.

    The secret is never printed: the file holds the line VARIABLE=whsec_..., ready to add
    to the receiver's environment file.

    \b
    Example:
      pik-recon webhooks register https://shop.example/webhooks
    """
    from pik_recon.webhooks.register import default_secret_file
    from pik_recon.webhooks.register import register as register_endpoint

    config = app.one_config(accounts, "a webhook endpoint")
    target = secret_file or default_secret_file(config, config.account)
    done = register_endpoint(config, url, events, target, force=force,
                             allow_duplicate=allow_duplicate)
    endpoint = done.endpoint
    app.out.result("webhooks_register", {
        "account": config.account, "id": endpoint.id, "url": endpoint.url,
        "events": list(endpoint.events), "status": endpoint.status,
        "secret_file": str(done.secret_file), "variable": done.variable})
    if not app.out.json:
        app.out.line(f"Registered {endpoint.id} for {endpoint.url} (events: "
                     f"{', '.join(endpoint.events)}) on account {config.account}.")
        app.out.line(f"Its secret is in {done.secret_file} (readable by you only), as the "
                     f"line {done.variable}=whsec_...; add it to the receiver's environment, "
                     f"e.g. `cat {done.secret_file} >> ~/.config/pik-recon/env`, restart the "
                     f"receiver, then delete {done.secret_file}.")

"""`pik-recon demo`: the whole nightly job on the embedded sandbox and sample_data/."""

from __future__ import annotations

from pathlib import Path

import click

from pik_recon.cli.common import AppContext
from pik_recon.cli.jobs import print_job
from pik_recon.cli.report import print_figures


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/demo"), show_default=True, help="Where the demo writes.")
@click.pass_obj
def demo(app: AppContext, out: Path) -> None:
    """Run the nightly job on a local sandbox seeded from sample_data/: sync, reconcile the
    sample orders, write the reports.

    \b
    Example:
      pik-recon demo
    """
    from pik_recon.demo import run_demo  # the sandbox's server is only needed here

    app.config()
    result = run_demo(out, app.config_path)
    print_job(app.out, result)
    if result.report is not None and not app.out.json:
        print_figures(app.out, result.report)
    if not app.out.json:
        app.out.line(f"warehouse: {out / 'warehouse.duckdb'} (try: .venv/bin/pik-recon --db "
                     f"{out / 'warehouse.duckdb'} status)")
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code)

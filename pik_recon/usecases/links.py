"""Links create: one payment link per row of a CSV, exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pik_recon.config import Config
from pik_recon.creation.bulk import CreateReport
from pik_recon.creation.bulk import create_links as create_rows
from pik_recon.errors import EXIT_FINDINGS, EXIT_OK, EXIT_TEMPORARY
from pik_recon.usecases.outcome import Outcome

UNSETTLED = ("unknown", "pending")  # a later run settles them: try again (exit 4)
NEEDS_SOMEONE = ("conflict", "failed")  # a person must look (exit 1)


@dataclass(frozen=True, kw_only=True)
class CreateOutcome(Outcome):
    """The rows' states. Exit 4 while any row's outcome is unproven or unsent, else 1
    when any is a conflict or failed, else 0; a dry run is 0."""

    report: CreateReport

    @property
    def exit_code(self) -> int:
        states = self.report.by_state
        if self.report.dry_run:
            return EXIT_OK
        if any(states.get(s) for s in UNSETTLED):
            return EXIT_TEMPORARY
        return EXIT_FINDINGS if any(states.get(s) for s in NEEDS_SOMEONE) else EXIT_OK

    def counts(self) -> dict[str, dict[str, Any]]:
        return {self.accounts[0]: {"rows": self.report.rows, **self.report.by_state,
                                   "posts": self.report.posts}}


def create_links(config: Config, file: Path, *, out: Path | None = None,
                 dry_run: bool = False, concurrency: int = 4, progress: Any = None
                 ) -> CreateOutcome:
    """`pik-recon links create FILE` on the account `config` is scoped to."""
    report = create_rows(config, file, out=out, dry_run=dry_run, concurrency=concurrency,
                         progress=progress)
    return CreateOutcome(accounts=(config.account,), report=report)

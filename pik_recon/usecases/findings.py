"""Findings: list those of the last run, acknowledge them, reopen them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pik_recon.config import Config
from pik_recon.findings import Finding, acknowledge, acknowledge_from, default_user, reopen
from pik_recon.findings import findings_of as read_findings
from pik_recon.findings import select as chosen
from pik_recon.usecases.common import open_for_reading, open_for_writing
from pik_recon.usecases.outcome import Outcome


@dataclass(frozen=True, kw_only=True)
class FindingsOutcome(Outcome):
    """Findings of the runs read (`every`), those the filters chose or a change touched
    (`shown`), and how many a file acknowledged already (`already`)."""

    runs: tuple[int, ...] = ()
    every: tuple[Finding, ...] = ()
    shown: tuple[Finding, ...] = ()
    already: int = 0


def list_findings(config: Config, accounts: Sequence[str] = (), *, run_id: int | None = None,
                  state: str | None = None, category: str | None = None,
                  severity: str | None = None) -> FindingsOutcome:
    """`pik-recon findings list`: the last run of each account named (or run `run_id`)."""
    names = tuple(c.account for c in config.scoped(accounts))
    with open_for_reading(config) as warehouse:
        runs, every = read_findings(warehouse, names, run_id)
    return FindingsOutcome(accounts=names, runs=tuple(runs), every=tuple(every),
                           shown=tuple(chosen(every, state=state, category=category,
                                              severity=severity)))


def ack_findings(config: Config, accounts: Sequence[str] = (), *, ids: Sequence[str] = (),
                 note: str = "", by: str | None = None, from_file: Path | None = None,
                 now: datetime | None = None) -> FindingsOutcome:
    """`pik-recon findings ack`: the findings `ids` with `note`, or every row of
    `from_file` that has a note; all or none."""
    names = tuple(c.account for c in config.scoped(accounts))
    moment = now or datetime.now(UTC)
    with open_for_writing(config, create=False) as warehouse:
        if from_file is not None:
            done, already = acknowledge_from(warehouse, names, from_file, by, moment)
        else:
            done, already = acknowledge(warehouse, names, list(ids), [note] * len(ids),
                                        by or default_user(), moment), 0
    return FindingsOutcome(accounts=names, shown=tuple(done), already=already)


def reopen_findings(config: Config, accounts: Sequence[str] = (), *, ids: Sequence[str],
                    by: str | None = None, now: datetime | None = None) -> FindingsOutcome:
    """`pik-recon findings reopen`: withdraw the acknowledgement of the findings `ids`."""
    names = tuple(c.account for c in config.scoped(accounts))
    with open_for_writing(config, create=False) as warehouse:
        done = reopen(warehouse, names, list(ids), by or default_user(),
                      now or datetime.now(UTC))
    return FindingsOutcome(accounts=names, shown=tuple(done))

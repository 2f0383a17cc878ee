"""What every command shares: the context object, config building, output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from pik_recon.config import Config, load_config
from pik_recon.errors import UsageError
from pik_recon.logs import setup_logging

if TYPE_CHECKING:
    from pik_recon.usecases.outcome import Outcome


def exit_with(outcome: Outcome) -> None:
    """End a command as its outcome says: its error (the message and the exit code the
    error knows), else its exit code."""
    error = outcome.error
    if error is not None:
        raise error
    if outcome.exit_code:
        raise click.exceptions.Exit(outcome.exit_code)


def account_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--account NAME, repeatable; `what` says what it limits."""
    return click.option("--account", "accounts", multiple=True, metavar="NAME",
                        help=f"{what} of this account only (repeat for several; default: "
                        "every account in the config).")


class Output:
    """What a command prints on stdout. On a terminal, rich tables; elsewhere (cron, a pipe)
    plain tables printed whole, nothing cut to the width; with --log-format json, one JSON
    object per line, a command's result as one object."""

    def __init__(self, fmt: str, stream: TextIO | None = None) -> None:
        self.json = fmt == "json"
        self.stream = stream or sys.stdout
        self.terminal = self.stream.isatty()
        self._rich = Console(file=self.stream, highlight=False, soft_wrap=True)

    def line(self, text: str) -> None:
        if self.json:
            self._emit({"message": text})
        else:
            self._rich.print(text, markup=False)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              right: Sequence[str] = ()) -> None:
        cells = [["" if v is None else str(v) for v in row] for row in rows]
        if self.json:
            self._emit({"table": title, "rows": [dict(zip(columns, r, strict=True))
                                                 for r in cells]})
        elif self.terminal:
            table = Table(title=title)
            for column in columns:
                table.add_column(column, justify="right" if column in right else "left")
            for row in cells:
                table.add_row(*row, style=None)
            self._rich.print(table)
        else:
            self._plain(title, columns, cells, right)

    def result(self, kind: str, payload: dict[str, Any]) -> None:
        """A command's result, as one object (JSON only: in text the command prints it)."""
        if self.json:
            self._emit({"result": kind, **payload})

    def _plain(self, title: str, columns: Sequence[str], rows: list[list[str]],
               right: Sequence[str]) -> None:
        widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]

        def line(values: Sequence[str]) -> str:
            return "  ".join(v.rjust(w) if c in right else v.ljust(w)
                             for c, v, w in zip(columns, values, widths, strict=True)).rstrip()

        print(title, file=self.stream)
        print(line(columns), file=self.stream)
        for row in rows:
            print(line(row), file=self.stream)

    def _emit(self, payload: dict[str, Any]) -> None:
        print(json.dumps(payload, default=str, ensure_ascii=False), file=self.stream,
              flush=True)


@dataclass
class AppContext:
    """Global options, turned into a Config once a command needs it."""

    config_path: str | None
    db: str | None
    verbose: bool
    log_format: str
    _config: Config | None = field(default=None, repr=False)
    _out: Output | None = field(default=None, repr=False)

    @property
    def out(self) -> Output:
        if self._out is None:
            self._out = Output(self.log_format)
        return self._out

    def config(self, **overrides: dict[str, Any]) -> Config:
        if self._config is None:
            self._config = load_config(config_path=self.config_path, db=self.db,
                                       overrides=overrides or None)
            secrets = [s for a in self._config.accounts for s in (a.api_key, a.webhook_secret)
                       if s]
            setup_logging(fmt=self.log_format, verbose=self.verbose, secrets=secrets)
        return self._config

    def configs(self, accounts: Sequence[str], **overrides: dict[str, Any]) -> list[Config]:
        """The config of each account named by --account (every account when none is)."""
        return self.config(**overrides).scoped(accounts)

    def account_names(self, accounts: Sequence[str]) -> list[str]:
        """The accounts named by --account (every account when none is), checked."""
        return [c.account for c in self.configs(accounts)]

    def one_config(self, accounts: Sequence[str], what: str) -> Config:
        """The config of the one account `what` (a file, say) belongs to: the one named by
        --account, or the only account there is."""
        config = self.config()
        if len(set(accounts)) > 1:
            raise UsageError(f"--account: {what} belongs to one account; give --account once")
        if not accounts and len(config.account_names) > 1:
            raise UsageError(f"{what} belongs to one account: name it with --account "
                             f"(configured: {', '.join(config.account_names)})")
        return config.for_account(accounts[0] if accounts else config.account_names[0])

    @property
    def interactive(self) -> bool:
        return self.log_format == "text" and sys.stderr.isatty()


class RateColumn(ProgressColumn):
    """Requests per minute, the unit PIK's limits are stated in."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed * 60:.0f}/min" if speed else "-/min")


class PageProgress:
    """Progress bars of requests on a terminal, one per account; silent under cron."""

    def __init__(self, enabled: bool, label: str = "requests") -> None:
        self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), RateColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.fields[budget]}"),
                                 TextColumn("{task.fields[note]}"),
                                 console=Console(stderr=True),
                                 transient=True, disable=not enabled)
        self._label = label
        self._bars: dict[str, AccountBar] = {}

    def __enter__(self) -> PageProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def account(self, name: str, several: bool = False) -> AccountBar:
        """The bar of one account (labelled with its name when there are several)."""
        if name not in self._bars:
            label = f"{self._label} {name}" if several else self._label
            self._bars[name] = AccountBar(self._bar, self._bar.add_task(label, total=0,
                                                                        budget="", note=""))
        return self._bars[name]


class AccountBar:
    """One account's requests, against the request budget of the list being synced."""

    def __init__(self, bar: RichProgress, task: TaskID) -> None:
        self._bar = bar
        self._task = task
        self._budget = 0
        self._before = 0  # requests of the lists synced before this budget was set

    def add_pages(self, pages: int) -> None:
        task = self._bar.tasks[self._task]
        self._bar.update(self._task, total=(task.total or 0) + pages)

    def advance(self, pages: int = 1) -> None:
        self._bar.advance(self._task, pages)
        if self._budget:
            done = int(self._bar.tasks[self._task].completed) - self._before
            self._bar.update(self._task, budget=f"budget {done}/{self._budget}")

    def set_budget(self, limit: int) -> None:
        """Show the requests from now on against a list's request budget."""
        self._budget = limit
        self._before = int(self._bar.tasks[self._task].completed)
        self._bar.update(self._task, budget=f"budget 0/{limit}")

    def waiting(self, note: str | None) -> None:
        """Show a long wait while it lasts ("waiting 30 s: PIK asked"); None clears it."""
        self._bar.update(self._task, note=note or "")

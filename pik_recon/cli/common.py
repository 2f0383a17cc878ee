"""What every command shares: the context object, config building, output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import click

from pik_recon.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from pik_recon.config import Config
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
        self._console: Console | None = None

    @property
    def _rich(self) -> Console:
        if self._console is None:  # rich costs a command's start only once it prints
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, soft_wrap=True)
        return self._console

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
            from rich.table import Table

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
            from pik_recon.config import load_config  # not needed to show --help
            from pik_recon.logs import setup_logging

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

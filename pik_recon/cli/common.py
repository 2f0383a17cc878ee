"""What every command shares: the context object, config building, output."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from pik_recon.config import Config, load_config
from pik_recon.logs import setup_logging


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
            secrets = [self._config.api_key] if self._config.api_key else []
            setup_logging(fmt=self.log_format, verbose=self.verbose, secrets=secrets)
        return self._config

    @property
    def interactive(self) -> bool:
        return self.log_format == "text" and sys.stderr.isatty()


class RateColumn(ProgressColumn):
    """Requests per minute, the unit PIK's limits are stated in."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed * 60:.0f}/min" if speed else "-/min")


class PageProgress:
    """A progress bar of requests on a terminal; silent under cron."""

    def __init__(self, enabled: bool, label: str = "requests") -> None:
        self._bar = RichProgress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                                 RateColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.fields[budget]}"),
                                 console=Console(stderr=True),
                                 transient=True, disable=not enabled)
        self._task = self._bar.add_task(label, total=0, budget="")
        self._budget = 0

    def __enter__(self) -> PageProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def add_pages(self, pages: int) -> None:
        task = self._bar.tasks[0]
        self._bar.update(self._task, total=(task.total or 0) + pages)

    def advance(self, pages: int = 1) -> None:
        self._bar.advance(self._task, pages)
        if self._budget:
            done = int(self._bar.tasks[0].completed)
            self._bar.update(self._task, budget=f"budget {done}/{self._budget}")

    def set_budget(self, limit: int) -> None:
        """Show requests spent against the sync's request budget."""
        self._budget = limit
        self._bar.update(self._task, budget=f"budget 0/{limit}")

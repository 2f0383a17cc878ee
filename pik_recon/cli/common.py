"""What every command shares: the context object, config building, console output."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

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
from rich.text import Text

from pik_recon.config import Config, load_config
from pik_recon.logs import setup_logging

console = Console(highlight=False, soft_wrap=True)


@dataclass
class AppContext:
    """Global options, turned into a Config once a command needs it."""

    config_path: str | None
    db: str | None
    verbose: bool
    log_format: str
    _config: Config | None = field(default=None, repr=False)

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

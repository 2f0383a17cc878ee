"""Progress bars on a terminal: requests per account for sync and links, steps for report."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text


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


class StepProgress:
    """A bar per step of a report on a terminal (the figures, then each file and its
    rows); silent under cron and with --log-format json."""

    def __init__(self, enabled: bool) -> None:
        self._bar = RichProgress(TextColumn("{task.description:<12}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=True,
                                 disable=not enabled)

    def __enter__(self) -> StepProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def step(self, name: str, total: int) -> Callable[[int], None]:
        """Show the step `name` of `total` units; returns what to call with units done."""
        for task in self._bar.tasks:  # the step before is done: only this one moves
            self._bar.update(task.id, completed=task.total)
        task = self._bar.add_task(name, total=total)
        return lambda done: self._bar.advance(task, done)

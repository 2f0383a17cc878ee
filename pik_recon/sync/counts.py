"""The one count of a sync's requests, and its one written form.

A sync's run of one list spends a request budget: every page or fetch by id it asks for is
charged once, however many attempts it takes (`spent`, against `budget`). The client counts
what went over the wire: every attempt (`sent`), of which `retries` were attempts after a
failed one. The summary, `--log-format json`, the job's sync step and sync_runs all show
these four numbers, written here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pik_recon.client import ClientStats


@dataclass
class RequestCounts(ClientStats):
    """One sync run's requests: `spent` of the `budget` (None until PIK's first total sets
    it), and the attempts `sent` with the `retries` among them."""

    spent: int = 0
    budget: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """For JSON (the sync's result, the job's step)."""
        return {"spent": self.spent, "budget": self.budget, "sent": self.sent,
                "retries": self.retries}

    def columns(self) -> dict[str, Any]:
        """For the sync_runs row (sql/queries/sync/finish_run.sql)."""
        return {"budget_spent": self.spent, "request_budget": self.budget,
                "requests": self.sent, "retries": self.retries}

    def __str__(self) -> str:
        budget = f" of a budget of {self.budget:,}" if self.budget is not None else ""
        return (f"requests {self.spent:,}{budget} ({self.sent:,} sent, {self.retries:,} "
                "of them retries)")

"""Parse the WHEN forms of the CLI: dates, ISO timestamps, yesterday, today, 7d, 36h."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ACCEPTED_FORMS = "2026-11-01, 2026-11-01T08:00:00+01:00, yesterday, today, 7d, 36h"
_RELATIVE = re.compile(r"^(\d{1,5})([dh])$")


def parse_when(text: str, *, now: datetime, tz: ZoneInfo | None = None) -> datetime:
    """Turn a WHEN into an aware UTC datetime; ValueError names the accepted forms."""
    value = text.strip().lower()
    zone = tz or ZoneInfo("UTC")
    local_now = now.astimezone(zone)
    if value in ("today", "yesterday"):
        day = local_now.date() - timedelta(days=1 if value == "yesterday" else 0)
        return datetime.combine(day, time(), zone).astimezone(UTC)
    match = _RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        delta = timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
        return (now - delta).astimezone(UTC)
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), zone).astimezone(UTC)
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{text}' is not a time; accepted forms: {ACCEPTED_FORMS}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)

"""Date values for TicketSQL: absolute and relative, each a range [start, end) in UTC.

`=` on a date means that whole range (a whole day for a date), `<` is before its start, `>=` from
its start, `>` from its end, `<=` before its end: so `Created = 'today'` and `Created >= 'today'`
read as people mean them.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from tessera.core import clock

_AGO = re.compile(r"^(\d{1,9})\s*(minute|min|hour|day|week|month|year)s?\s+ago$")
_AHEAD = re.compile(r"^(?:in\s+)?(\d{1,9})\s*(minute|min|hour|day|week|month|year)s?(?:\s+from now)?$")
_UNITS = {"minute": 1, "min": 1, "hour": 60, "day": 1440, "week": 10080, "month": 43200, "year": 525600}


def _day(d: date) -> tuple[datetime, datetime]:
    start = datetime.combine(d, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _instant(t: datetime) -> tuple[datetime, datetime]:
    return t, t


def date_range(text: str, now: datetime | None = None) -> tuple[datetime, datetime] | None:
    """The range a date value stands for, or None when it is not a date (or out of range)."""
    try:
        return _date_range(text, now or clock.now())
    except (OverflowError, ValueError):  # '9999-12-31' + a day, '99999999 years ago'
        return None


def _date_range(text: str, now: datetime) -> tuple[datetime, datetime] | None:
    value = " ".join(text.strip().lower().split())
    today = now.date()
    if value in ("today", "yesterday", "tomorrow"):
        return _day(today + timedelta(days={"today": 0, "yesterday": -1, "tomorrow": 1}[value]))
    if value == "now":
        return _instant(now)
    monday = today - timedelta(days=today.weekday())
    if value in ("this week", "last week", "next week"):
        start = monday + timedelta(weeks={"this week": 0, "last week": -1, "next week": 1}[value])
        return datetime.combine(start, time.min, tzinfo=UTC), datetime.combine(
            start + timedelta(weeks=1), time.min, tzinfo=UTC
        )
    if value in ("this month", "last month", "next month"):
        first = today.replace(day=1)
        if value == "last month":
            first = (first - timedelta(days=1)).replace(day=1)
        elif value == "next month":
            first = (first + timedelta(days=32)).replace(day=1)
        nxt = (first + timedelta(days=32)).replace(day=1)
        return datetime.combine(first, time.min, tzinfo=UTC), datetime.combine(nxt, time.min, tzinfo=UTC)
    match = _AGO.match(value)
    if match:
        return _instant(now - timedelta(minutes=int(match.group(1)) * _UNITS[match.group(2)]))
    match = _AHEAD.match(value)
    if match and (value.startswith("in ") or value.endswith("from now")):
        return _instant(now + timedelta(minutes=int(match.group(1)) * _UNITS[match.group(2)]))
    try:
        return _day(date.fromisoformat(value))
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _instant(parsed)

"""Times as every JSON answer writes them (CLI `--json`, the HTTP API, its event stream): RFC 3339
in UTC with a `Z`, as `2026-12-07T17:29:27Z` (microseconds when there are any), the form the
ticket JSON has always had (pydantic's, and the README's examples). One place, so that a ticket's
`created` and its transactions' and reminders' read the same (they said `+00:00` before).

Times already kept as text (a transaction's old and new Due, `data` such as `sla_due`, an outbox
recipient's next attempt) were written with `+00:00` before this: `json_times` rewrites those in
what it is given, a UTC offset only (no other text is touched)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_UTC_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?(?:\+00:00|\+00|-00:00)")


def json_time(value: datetime | None) -> str | None:
    """`value` as JSON writes it: UTC, ending in `Z` (a time with no zone is taken as UTC, as the
    database's are); None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_times(value: Any) -> Any:
    """`value` (text, or lists and dicts of it) with every time kept as text in UTC with an offset
    written as `json_time` writes it; anything else as it is."""
    if isinstance(value, str):
        if _UTC_TEXT.fullmatch(value):
            head = value.rsplit("+", 1)[0] if "+" in value else value.rsplit("-", 1)[0]
            return head + "Z"
        return value
    if isinstance(value, dict):
        return {k: json_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_times(v) for v in value]
    return value


# The fields whose Set transactions keep a time as text (core's `_as_text`: due, starts, ...).
TIME_FIELDS = frozenset({"Due", "Starts", "Started", "Resolved", "Told"})


def json_change(field: str | None, value: str | None) -> str | None:
    """A transaction's old or new value as JSON writes it: a time field's as `json_times` writes
    it; any other field's (a subject, a custom field's value) as it is, even one that reads like a
    time (`Set Subject -> 2026-12-07T00:00:00+00:00` said `...Z`)."""
    return json_times(value) if field in TIME_FIELDS else value

"""What `tessera import` reads: one ticket per line of JSON Lines, with its history.

```json
{"queue": "General", "subject": "VPN down", "status": "resolved", "owner": "alice",
 "requestors": ["ann@example.com"], "created": "2024-03-01T09:00:00Z", "resolved": "2024-03-02T10:00:00Z",
 "custom_fields": {"Severity": "high"}, "origin": "rt.example.com#1234",
 "reminders": [{"subject": "Check again", "owner": "alice", "due": "2024-03-09"}],
 "transactions": [
   {"type": "Create", "actor": "ann@example.com", "created": "2024-03-01T09:00:00Z", "body": "It is down"},
   {"type": "Correspond", "actor": "alice", "created": "2024-03-01T09:30:00Z", "body": "On it"},
   {"type": "Status", "actor": "alice", "created": "2024-03-02T10:00:00Z", "old": "open", "new": "resolved"}]}
```
Every key but `queue` may be left out; the rules for what is left out are in `importing`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tessera.core.errors import InvalidInput
from tessera.core.schemas import Int32, pydantic_message

# RT's transaction types that an import may carry (history only: an imported AddLink records the
# link's story, it makes no link). Matched without regard to case.
TRANSACTION_TYPES = (
    "Create",
    "Correspond",
    "Comment",
    "Status",
    "Set",
    "Take",
    "Untake",
    "Steal",
    "Give",
    "CustomField",
    "AddWatcher",
    "DelWatcher",
    "AddLink",
    "DeleteLink",
    "AddReminder",
    "OpenReminder",
    "ResolveReminder",
    "Told",
)
MESSAGE_TYPES = ("Create", "Correspond", "Comment")


class ImportTransaction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    actor: str | None = None
    created: datetime | None = None
    field: str | None = Field(default=None, max_length=64)
    old: str | None = None
    new: str | None = None
    body: str | None = None
    subject: str | None = None
    content_type: str = "text/plain"
    time_taken: Int32 = 0


class ImportReminder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str
    owner: str | None = None
    due: datetime | None = None
    status: str | None = None
    created: datetime | None = None
    resolved: datetime | None = None


class ImportTicket(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue: str
    subject: str = ""
    status: str | None = None
    owner: str | None = None
    creator: str | None = None
    requestors: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    admincc: list[str] = Field(default_factory=list)
    priority: Int32 | None = None
    initial_priority: Int32 | None = None
    final_priority: Int32 | None = None
    time_worked: Int32 | None = None
    time_estimated: Int32 = 0
    time_left: Int32 | None = None
    created: datetime | None = None
    updated: datetime | None = None
    started: datetime | None = None
    resolved: datetime | None = None
    told: datetime | None = None
    due: datetime | None = None
    starts: datetime | None = None
    custom_fields: dict[str, str | list[str]] = Field(default_factory=dict)
    reminders: list[ImportReminder] = Field(default_factory=list)
    transactions: list[ImportTransaction] = Field(default_factory=list)
    # Where it came from (another desk's id), kept on the Create transaction.
    origin: str | None = Field(default=None, max_length=200)


def parse_lines(lines: Iterable[str]) -> Iterator[tuple[int, ImportTicket]]:
    """(line number, record) for each non-blank line; a bad line is one error naming it."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {number}: not JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(data, dict):
            raise InvalidInput(
                f"line {number}: expected a JSON object (one ticket), got {type(data).__name__}"
            )
        where = _nul_in(data)
        if where is not None:
            raise InvalidInput(
                f"line {number}: {where}: a NUL character (\\u0000): no text on the desk can hold one"
            )
        try:
            yield number, ImportTicket.model_validate(data)
        except ValidationError as exc:
            raise InvalidInput(f"line {number}: {pydantic_message(exc)}") from None


def _nul_in(value: Any, path: str = "") -> str | None:
    """Where (`transactions.0.body`) the first text holding a NUL is, in a key or a value: the
    records are written with COPY, where PostgreSQL's refusal would name no line."""
    if isinstance(value, str):
        return (path or "the line") if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return f"{path}.{key!a}" if path else ascii(key)
        found = _nul_in(item, here)
        if found is not None:
            return found
    return None

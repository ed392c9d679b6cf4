"""Pydantic schemas: what operations accept, checked before anything is written."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)

from tessera.core import clock
from tessera.core.errors import InvalidInput
from tessera.core.json_time import json_time

# PostgreSQL's `integer`: priorities, times and versions are stored in it; a number outside is
# refused as input, not left to fail in the database.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
Int32 = Annotated[int, Field(ge=INT_MIN, le=INT_MAX)]


def normalise_email(raw: str) -> str:
    """A usable address, lower-cased domain; `Name <a@b>` forms are accepted."""
    from email.utils import parseaddr

    _, addr = parseaddr(raw.strip())
    addr = addr or raw.strip()
    try:
        checked = validate_email(addr, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise InvalidInput(f"malformed email address {raw!r}: {exc}") from None
    return checked.normalized


def _email(value: str) -> str:
    try:
        return normalise_email(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


Email = Annotated[str, AfterValidator(_email)]


def is_user_name(value: str) -> bool:
    """`alice` rather than an address: no @-sign, no spaces (a user name has none)."""
    text = value.strip()
    return bool(text) and "@" not in text and not any(c.isspace() or c in "<>," for c in text)


def _person(value: str) -> str:
    return value.strip() if is_user_name(value) else _email(value)


# A ticket's people: an email address, or a user's name (`--admincc alice`, as RT takes either);
# the core looks the name up and refuses one nobody has.
Person = Annotated[str, AfterValidator(_person)]


class AttachmentIn(BaseModel):
    filename: str
    content_type: str = "application/octet-stream"
    data: bytes


class MimePartIn(BaseModel):
    """One node of a received message's MIME tree (mail gateway): text parts carry `text`."""

    content_type: str = "text/plain"
    headers: str = ""
    filename: str | None = None
    text: str | None = None
    data: bytes | None = None
    children: list[MimePartIn] = Field(default_factory=list)


class MessageIn(BaseModel):
    """A correspondence or comment; mail brings headers, the CLI and TUI only a body."""

    model_config = ConfigDict(extra="forbid")

    body: str = ""
    content_type: str = "text/plain"
    subject: str | None = None
    headers: str = ""
    message_id: str | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list)
    time_taken: Int32 = 0
    # Extra recipients for this message only (RT's one-time Cc/Bcc), and addresses this message's
    # notifications skip (RT's squelch checkboxes); an agent's, never a received message's.
    cc: list[Email] = Field(default_factory=list, max_length=100)
    bcc: list[Email] = Field(default_factory=list, max_length=100)
    squelch: list[Email] = Field(default_factory=list, max_length=100)
    # Mail: the whole MIME tree as received; when set, it is stored instead of body + attachments.
    mime: MimePartIn | None = None

    def is_empty(self) -> bool:
        return not self.body.strip() and not self.attachments and self.mime is None


def message_in(body: str, cc: Sequence[str] = (), bcc: Sequence[str] = ()) -> MessageIn:
    """A message typed in a form, with its one-time Cc and Bcc; a bad address is one line."""
    try:
        return MessageIn(body=body, cc=list(cc), bcc=list(bcc))
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc)) from None


class ForwardIn(BaseModel):
    """RT's Forward: one message of a ticket (`transaction`), or the whole ticket, sent on to
    people outside it, with an agent's note (`body`)."""

    model_config = ConfigDict(extra="forbid")

    to: list[Email] = Field(min_length=1, max_length=100)
    cc: list[Email] = Field(default_factory=list, max_length=100)
    bcc: list[Email] = Field(default_factory=list, max_length=100)
    body: str = ""
    transaction: Int32 | None = None


def _aware(value: datetime) -> datetime:
    """A time without a zone is UTC, as `parse_datetime` reads one typed (the database would
    store it so; the ticket made from it must say so too)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


Moment = Annotated[datetime, AfterValidator(_aware)]


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue: str
    subject: str = ""
    requestors: list[Person] = Field(default_factory=list)
    cc: list[Person] = Field(default_factory=list)
    admincc: list[Person] = Field(default_factory=list)
    owner: str | None = None
    status: str | None = None
    priority: Int32 | None = None
    initial_priority: Int32 | None = None
    final_priority: Int32 | None = None
    due: Moment | None = None
    starts: Moment | None = None
    time_estimated: Int32 | None = None
    sla: str | None = None
    custom_fields: dict[str, str | list[str]] = Field(default_factory=dict)
    message: MessageIn = Field(default_factory=MessageIn)


_RELATIVE = re.compile(r"^\s*(?:in\s+)?(\d+)\s*(minute|min|hour|day|week)s?(\s+ago)?\s*$", re.I)


def parse_datetime(raw: str, *, field: str = "date") -> datetime | None:
    """ISO dates and times, `today`, `tomorrow`, `in 3 days`, `2 hours ago`; empty clears."""
    text = raw.strip()
    if text == "" or text.lower() in ("none", "null", "unset", "-"):
        return None
    now = clock.now()
    lowered = text.lower()
    if lowered == "now":
        return now
    if lowered in ("today", "tomorrow", "yesterday"):
        day = now.date() + timedelta(days={"today": 0, "tomorrow": 1, "yesterday": -1}[lowered])
        return datetime.combine(day, time.min, tzinfo=UTC)
    match = _RELATIVE.match(text)
    if match:
        amount, unit, ago = int(match.group(1)), match.group(2).lower(), match.group(3)
        minutes = {"minute": 1, "min": 1, "hour": 60, "day": 1440, "week": 10080}[unit] * amount
        try:
            delta = timedelta(minutes=minutes)
            return now - delta if ago else now + delta
        except OverflowError:
            raise InvalidInput(f"{field}: {raw!r} is too far away") from None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text), time.min)
        except ValueError:
            raise InvalidInput(
                f"{field}: cannot read {raw!r} as a date (try 2026-12-01, 2026-12-01T14:00, today, in 3 days)"
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def as_int32(text: str) -> int | None:
    """`text` as an integer PostgreSQL's `integer` holds (ASCII digits, an optional sign), else
    None: for names that may also be ids (`Queue = 5`), where a long run of digits is no id."""
    text = text.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits.lstrip("0")) > 10:
        return None
    value = int(text)
    return value if INT_MIN <= value <= INT_MAX else None


def parse_int(raw: str, *, field: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidInput(f"{field}: {raw!r} is not a whole number") from None
    if not INT_MIN <= value <= INT_MAX:
        raise InvalidInput(f"{field}: {value} is out of range ({INT_MIN} to {INT_MAX})")
    return value


def pydantic_message(exc: Exception) -> str:
    """A pydantic ValidationError as one line: `field: problem; field: problem`."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for err in errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


class TicketLinks(BaseModel):
    depends_on: list[str] = Field(default_factory=list)
    depended_on_by: list[str] = Field(default_factory=list)
    refers_to: list[str] = Field(default_factory=list)
    referred_to_by: list[str] = Field(default_factory=list)
    member_of: list[str] = Field(default_factory=list)
    has_member: list[str] = Field(default_factory=list)


# A time in a model printed as JSON: written by `json_time` (the one form of every JSON answer),
# described in the OpenAPI schema as the date-time it is.
JsonTime = Annotated[
    datetime,
    PlainSerializer(json_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


class ReminderOut(BaseModel):
    """A reminder as it is listed with its ticket."""

    model_config = ConfigDict(extra="forbid")

    id: int
    subject: str
    owner: str | None
    due: JsonTime | None
    status: str
    created: JsonTime
    resolved: JsonTime | None


class CustomFieldOut(BaseModel):
    """A custom field's JSON (`cf list --json`, the API's /custom-fields)."""

    id: int
    name: str
    type: str
    multiple: bool
    values: list[str] = Field(description="A select field's allowed values, in order.")
    pattern: str | None
    queue_id: int | None
    queue: str | None = Field(description="The one queue it applies to; null: every queue.")
    description: str
    disabled: bool = Field(description="No longer offered on tickets; the values they hold are kept.")


class TicketOutOfSight(BaseModel):
    """What a change answers when it committed but took the ticket out of its author's sight (the
    change or a scrip it ran moved it to a queue without ShowTicket for them, or gave away the
    ownership or watcher role they saw it through): the ticket they named, and that it is gone
    from their sight. Nothing of where it went (its new queue is not theirs to know)."""

    model_config = ConfigDict(extra="forbid")

    id: int
    display_id: str
    visible: Literal[False] = Field(
        description="false: the change was made, and you may no longer see the ticket"
    )
    note: str


class TicketOut(BaseModel):
    """The ticket JSON of the brief: the stable keys every interface prints (`--json`)."""

    model_config = ConfigDict(extra="forbid")

    id: int
    display_id: str
    queue: str
    subject: str
    status: str
    owner: str | None
    requestors: list[str]
    cc: list[str]
    admincc: list[str]
    priority: int
    initial_priority: int
    final_priority: int
    time_worked: int
    time_estimated: int
    time_left: int
    created: JsonTime
    updated: JsonTime
    started: JsonTime | None
    resolved: JsonTime | None
    due: JsonTime | None
    starts: JsonTime | None
    told: JsonTime | None
    sla: str | None = Field(description="The service level (a level of `tessera sla export`), or none")
    sla_time_left: int | None = Field(
        description="Minutes from now to Due (business minutes on the level's calendar, real ones"
        " for a level without one: see sla_clock); negative: overdue; null without a level or a Due,"
        " and once the ticket is inactive (resolved, rejected...)"
    )
    sla_clock: Literal["business", "real"] | None = Field(
        None,
        description="What sla_time_left counts: business time on the level's calendar, or real time"
        " (a level with no calendar, 24x7); null without a level",
    )
    custom_fields: dict[str, str | list[str] | None]
    links: TicketLinks
    merged_from: list[str]
    reminders: list[ReminderOut]
    squelched: list[str] = Field(
        default_factory=list, description="Addresses no scrip mails about this ticket (RT's SquelchMailTo)."
    )
    version: int

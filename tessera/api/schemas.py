"""Request bodies: typed, so OpenAPI documents them and a wrong field is a 422 naming it."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError


def _not_a_truth_value(value: object) -> object:
    """JSON's true/false is no number, though pydantic would read it as 1/0 (`"priority": true`
    made a ticket of priority 1)."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "give a whole number, not true/false")
    return value


Int32 = Annotated[int, BeforeValidator(_not_a_truth_value), Field(ge=-(2**31), le=2**31 - 1)]
ShortText = Annotated[str, Field(max_length=1000)]


def _field_value(value: object) -> object:
    """A field's value in a change: text, a whole number, a list of texts (a custom field's
    values) or null (empty). JSON's true/false and fractions are none of these, though pydantic
    would read them as 1/0 or name each member of the union it tried."""
    if value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    kind = {bool: "true/false", float: "a fraction", dict: "an object", list: "a list of non-texts"}
    raise PydanticCustomError(
        "field_value",
        "give text, a whole number, a list of texts or null, not {kind}",
        {"kind": kind.get(type(value), type(value).__name__)},
    )


FieldValue = Annotated[str | int | list[str] | None, BeforeValidator(_field_value)]


class AttachmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: Annotated[str, Field(min_length=1, max_length=255)]
    content_type: Annotated[str, Field(max_length=255)] = "application/octet-stream"
    content_base64: str = Field(description="The file's bytes, base64-encoded.")

    @field_validator("content_base64")
    @classmethod
    def _is_base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("is not valid base64") from None
        return value

    def data(self) -> bytes:
        return base64.b64decode(self.content_base64)


class MessageBody(BaseModel):
    """A reply or comment (JSON); multipart/form-data takes `body` and files instead."""

    model_config = ConfigDict(extra="forbid")

    body: str = ""
    content_type: Literal["text/plain", "text/html"] = "text/plain"
    attachments: list[AttachmentBody] = Field(default_factory=list, max_length=100)
    time_taken: Int32 = 0
    # RT's one-time Cc/Bcc and squelching, for this message only (agents only).
    cc: list[ShortText] = Field(default_factory=list, max_length=100)
    bcc: list[ShortText] = Field(default_factory=list, max_length=100)
    squelch: list[ShortText] = Field(default_factory=list, max_length=100)


class TicketBody(BaseModel):
    """A new ticket: the CLI's `ticket create` options, with intake deduplication."""

    model_config = ConfigDict(extra="forbid")

    queue: Annotated[str, Field(min_length=1, max_length=200)]
    subject: Annotated[str, Field(max_length=2000)] = ""
    requestors: list[ShortText] = Field(default_factory=list, max_length=1000)
    cc: list[ShortText] = Field(default_factory=list, max_length=1000)
    admincc: list[ShortText] = Field(default_factory=list, max_length=1000)
    owner: ShortText | None = None
    status: ShortText | None = None
    priority: Int32 | None = None
    due: datetime | None = None
    starts: datetime | None = None
    sla: ShortText | None = Field(None, description="A service level; default: the queue's")
    custom_fields: dict[str, str | list[str]] = Field(default_factory=dict)
    body: str = ""
    content_type: Literal["text/plain", "text/html"] = "text/plain"
    attachments: list[AttachmentBody] = Field(default_factory=list, max_length=100)
    dedup_key: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None,
        description="E.g. an alert's fingerprint: while a ticket opened with this key is active in the "
        "queue, a repeat adds its message to that ticket (200) instead of opening another (201).",
    )
    dedup_action: Literal["correspond", "comment"] = "correspond"


class PreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    changes: dict[str, FieldValue] = Field(
        description="FIELD: VALUE as `tessera ticket set` takes them (status, owner, queue, cf.NAME...)."
    )


class BookmarkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bookmarked: bool = Field(
        True, description="true bookmarks the ticket for you, false removes your bookmark."
    )


class WatcherBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["Requestor", "Cc", "AdminCc"] = Field(description="The role on the ticket.")
    who: ShortText = Field(
        description="A user name, an e-mail address (a new one makes a requestor-type user), or a group"
        " as group:NAME (Cc or AdminCc only; its members receive the role's mail)."
    )


class SquelchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    addresses: list[ShortText] = Field(min_length=1, max_length=100, description="E-mail addresses.")
    squelched: bool = Field(
        True, description="true: no scrip mails them about this ticket (RT's SquelchMailTo); false: again."
    )


class ReminderBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: ShortText = Field(description="What to be reminded of.")
    owner: ShortText | None = Field(
        None, description="Whose reminder: a user name, or Nobody (default: the ticket's owner, else you)."
    )
    due: ShortText | None = Field(None, description="Due date: 2026-12-01, tomorrow, in 3 days.")


class QueueBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] = ""
    lifecycle: Annotated[str, Field(max_length=200)] | None = None
    correspond_address: Annotated[str, Field(max_length=320)] | None = None
    comment_address: Annotated[str, Field(max_length=320)] | None = None
    subject_tag: Annotated[str, Field(max_length=120)] | None = None


class CustomFieldBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64)]
    type: Literal["freeform", "select", "date", "integer"] = "freeform"
    multiple: bool = False
    queue: Annotated[str, Field(max_length=200)] | None = None
    values: list[ShortText] = Field(default_factory=list, max_length=1000)
    pattern: Annotated[str, Field(max_length=500)] | None = None
    description: Annotated[str, Field(max_length=2000)] = ""


class CustomFieldChange(BaseModel):
    """What `PATCH /custom-fields/{name}` changes (as `tessera cf set`): only what is given."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(None, description="A new name.")
    description: Annotated[str, Field(max_length=2000)] | None = None
    pattern: Annotated[str, Field(max_length=500)] | None = Field(
        None, description="A regular expression values must match; null or empty clears it."
    )
    queue: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="The one queue the field applies to; null or empty: every queue."
    )
    values: list[ShortText] | None = Field(
        None, max_length=1000, description="A select field's allowed values, in order (replaces them)."
    )
    multiple: bool | None = None
    disabled: bool | None = Field(None, description="true: no longer offered on tickets (values kept).")


class CustomFieldNames(BaseModel):
    model_config = ConfigDict(extra="forbid")

    names: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=100, description="The fields, all changed in one transaction or none."
    )


class LifecycleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: str = Field(
        description="The lifecycle as `tessera lifecycle export` prints it (YAML or JSON text)."
    )


class ScripsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: str = Field(
        description="Scrips and templates as `tessera scrip export` prints them (YAML or JSON text); "
        "applied as `tessera scrip apply` applies a file."
    )

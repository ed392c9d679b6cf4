"""RT's Simple templates: text with `{$Name}` placeholders and nothing else, for admins who should
not write logic. A placeholder that is not one of RT's variables (`VARIABLES`, `TicketCF<name>`) is
left as written, braces included, as RT does; there are no expressions, loops or conditions, so a
Simple template cannot fail to render or run long. The header block (`Subject:` ...) works as in
Jinja templates: the placeholders are filled first, then the text is read as headers and body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tessera.scrips.views import TicketView, TransactionView, UserView

PLACEHOLDER = re.compile(r"\{\$([A-Za-z_][A-Za-z0-9_]*)\}")


class SimpleSource(str):
    """A template's text, marked as a Simple template (the engine's catalog keeps both kinds)."""

    __slots__ = ()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _owner(t: TicketView) -> UserView:
    return t.owner


VARIABLES: dict[str, Callable[[TicketView, TransactionView, str], object]] = {
    "TicketId": lambda t, x, d: t.id,
    "TicketSubject": lambda t, x, d: t.subject,
    "TicketDescription": lambda t, x, d: "",
    "TicketType": lambda t, x, d: "ticket",
    "TicketStatus": lambda t, x, d: t.status,
    "TicketPriority": lambda t, x, d: t.priority,
    "TicketInitialPriority": lambda t, x, d: t.initial_priority,
    "TicketFinalPriority": lambda t, x, d: t.final_priority,
    "TicketTimeEstimated": lambda t, x, d: t.time_estimated,
    "TicketTimeWorked": lambda t, x, d: t.time_worked,
    "TicketTimeLeft": lambda t, x, d: t.time_left,
    "TicketTold": lambda t, x, d: t.told,
    "TicketStarts": lambda t, x, d: t.starts,
    "TicketStarted": lambda t, x, d: t.started,
    "TicketDue": lambda t, x, d: t.due,
    "TicketResolved": lambda t, x, d: t.resolved,
    "TicketCreated": lambda t, x, d: t.created,
    "TicketRequestorAddresses": lambda t, x, d: t.requestors,
    "TicketCcAddresses": lambda t, x, d: t.cc,
    "TicketAdminCcAddresses": lambda t, x, d: t.admincc,
    "TicketQueueId": lambda t, x, d: t.queue.id,
    "TicketQueueName": lambda t, x, d: t.queue.name,
    "TicketOwnerId": lambda t, x, d: _owner(t).id,
    "TicketOwnerName": lambda t, x, d: _owner(t).name,
    "TicketOwnerEmailAddress": lambda t, x, d: _owner(t).email,
    "TransactionId": lambda t, x, d: x.id,
    "TransactionType": lambda t, x, d: x.type,
    "TransactionField": lambda t, x, d: x.field,
    "TransactionOldValue": lambda t, x, d: x.old,
    "TransactionNewValue": lambda t, x, d: x.new,
    "TransactionData": lambda t, x, d: x.data.get("reason") or "",
    "TransactionContent": lambda t, x, d: x.content,
    "TransactionSubject": lambda t, x, d: x.subject,
    "TransactionDescription": lambda t, x, d: x.description,
    "TransactionBriefDescription": lambda t, x, d: x.description,
    "TransactionTimeTaken": lambda t, x, d: x.time_taken,
    "Requestor": lambda t, x, d: t.requestor,
    "rtname": lambda t, x, d: d,
}
CF_PREFIX = "TicketCF"


def _cf_key(name: str) -> str:
    """RT's `TicketCF<name>`: the field's name with its non-word characters removed."""
    return re.sub(r"\W", "", name)


def known(name: str) -> bool:
    """Whether `{$name}` is a variable (custom fields are known only when rendered)."""
    return name in VARIABLES or name.startswith(CF_PREFIX)


def render(source: str, ticket: TicketView, txn: TransactionView, desk: str) -> str:
    """Fill every known placeholder; leave the others as written."""
    fields: dict[str, Any] | None = None

    def fill(match: re.Match[str]) -> str:
        nonlocal fields
        name = match.group(1)
        getter = VARIABLES.get(name)
        if getter is not None:
            return _text(getter(ticket, txn, desk))
        if name.startswith(CF_PREFIX):
            if fields is None:
                fields = {_cf_key(k): v for k, v in ticket.custom_fields.items()}
            key = name[len(CF_PREFIX) :]
            if key in fields:
                return _text(fields[key])
        return match.group(0)

    return PLACEHOLDER.sub(fill, source)


def unknown_placeholders(source: str) -> list[tuple[int, str]]:
    """(line, name) of each placeholder that is no variable: it would be printed as written."""
    found = []
    for number, line in enumerate(source.split("\n"), start=1):
        for match in PLACEHOLDER.finditer(line):
            if not known(match.group(1)):
                found.append((number, match.group(1)))
    return found

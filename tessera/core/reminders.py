"""Reminders on tickets (RT's reminders): a subject, an owner, a due date and a status.

A reminder is opened in the status its ticket's lifecycle names as `reminder_on_open` and
resolved in `reminder_on_resolve` (RT's defaults, `open` and `resolved`); a lifecycle without them
uses its first active (else initial) and first inactive status. Each change is a transaction on
the ticket (AddReminder, ResolveReminder, OpenReminder), so it shows in the history, runs the
scrips and bumps the ticket's version. Adding or changing a reminder needs ModifyTicket, as in RT;
a reminder's owner may resolve or reopen it too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from tessera.core.context import Context, operation, record
from tessera.core.errors import InvalidInput, NotFound, PermissionDenied
from tessera.core.json_time import json_time
from tessera.core.lifecycles.desk import lifecycle_of
from tessera.core.lifecycles.model import Lifecycle
from tessera.core.models import Reminder, Ticket, Transaction
from tessera.core.ticket_read import for_change, get_ticket

MAX_SUBJECT = 200


def reminder_statuses(lifecycle: Lifecycle) -> tuple[str, str]:
    """(open, resolved): the lifecycle's reminder defaults, or its first active and inactive status."""
    opened = lifecycle.defaults.reminder_on_open or next(iter(lifecycle.active or lifecycle.initial), "open")
    resolved = lifecycle.defaults.reminder_on_resolve or next(iter(lifecycle.inactive), "resolved")
    return opened.lower(), resolved.lower()


def _subject(text: str) -> str:
    subject = " ".join(text.split())
    if not subject:
        raise InvalidInput("a reminder needs a subject")
    if len(subject) > MAX_SUBJECT:
        raise InvalidInput(f"reminder subject is {len(subject)} characters; at most {MAX_SUBJECT}")
    return subject


@operation
def add_reminder(
    ctx: Context,
    ref: str | int,
    subject: str,
    *,
    owner: str | None = None,
    due: datetime | None = None,
) -> Reminder:
    """A new reminder on the ticket; its owner is `owner`, else the ticket's owner, else the actor."""
    from tessera.core.users import get_user

    ticket = for_change(ctx, ref, None)
    ctx.require(
        "ModifyTicket", "add a reminder to", ticket.display_id, queue_id=ticket.queue_id, ticket=ticket
    )
    if owner is not None and owner.strip().lower() != "nobody":
        owner_id: int | None = get_user(ctx, owner).id
    else:
        owner_id = None if owner is not None else (ticket.owner_id or ctx.actor.id)
    opened, _ = reminder_statuses(lifecycle_of(ctx.session, ticket.queue))
    reminder = Reminder(
        ticket_id=ticket.id,
        subject=_subject(subject),
        owner_id=owner_id,
        due=due,
        status=opened,
        created=ctx.now,
        creator_id=ctx.actor.id,
    )
    ctx.session.add(reminder)
    ctx.session.flush()
    record(
        ctx,
        ticket,
        "AddReminder",
        field="Reminder",
        new=reminder.subject,
        data={"reminder": reminder.id, "owner_id": owner_id, "due": due.isoformat() if due else None},
    )
    return reminder


def _reminder(ctx: Context, ticket: Ticket, reminder_id: int | str) -> Reminder:
    try:
        number = int(str(reminder_id).lstrip("#"))
    except ValueError:
        raise InvalidInput(f"a reminder is named by its number, not {reminder_id!r}") from None
    found = ctx.session.get(Reminder, number)  # its ticket's row lock guards it
    if found is None or found.ticket_id != ticket.id:
        raise NotFound(f"{ticket.display_id} has no reminder #{number}")
    return found


def _may_change(ctx: Context, ticket: Ticket, reminder: Reminder, verb: str) -> None:
    if reminder.owner_id == ctx.actor.id and ctx.can("ShowTicket", ticket.queue_id, ticket):
        return
    if not ctx.can("ModifyTicket", ticket.queue_id, ticket):
        raise PermissionDenied(
            f"{ctx.actor.name} may not {verb} reminder #{reminder.id} of {ticket.display_id} "
            "(needs ModifyTicket, or to own the reminder)"
        )


def _set_state(ctx: Context, ref: str | int, reminder_id: int | str, resolve: bool) -> Transaction | None:
    ticket = for_change(ctx, ref, None)
    reminder = _reminder(ctx, ticket, reminder_id)
    _may_change(ctx, ticket, reminder, "resolve" if resolve else "reopen")
    opened, resolved = reminder_statuses(lifecycle_of(ctx.session, ticket.queue))
    target = resolved if resolve else opened
    if reminder.status == target:
        return None
    old = reminder.status
    reminder.status = target
    reminder.resolved = ctx.now if resolve else None
    return record(
        ctx,
        ticket,
        "ResolveReminder" if resolve else "OpenReminder",
        field="Reminder",
        old=old,
        new=target,
        data={"reminder": reminder.id, "subject": reminder.subject},
    )


@operation
def resolve_reminder(ctx: Context, ref: str | int, reminder_id: int | str) -> Transaction | None:
    """The reminder to the lifecycle's `reminder_on_resolve`; None when it already is."""
    return _set_state(ctx, ref, reminder_id, True)


@operation
def open_reminder(ctx: Context, ref: str | int, reminder_id: int | str) -> Transaction | None:
    """The reminder back to the lifecycle's `reminder_on_open`; None when it already is."""
    return _set_state(ctx, ref, reminder_id, False)


def reminders_json(ctx: Context, ticket: Ticket) -> list[dict[str, Any]]:
    """A ticket's reminders, oldest first, as the CLI's and the API's JSON list them."""
    rows = ctx.session.scalars(
        select(Reminder).where(Reminder.ticket_id == ticket.id).order_by(Reminder.id)
    ).all()
    return [
        {
            "id": r.id,
            "subject": r.subject,
            "owner": r.owner.name if r.owner is not None else None,
            "due": json_time(r.due),
            "status": r.status,
            "created": json_time(r.created),
            "resolved": json_time(r.resolved),
        }
        for r in rows
    ]


def list_reminders(ctx: Context, ref: str | int) -> list[dict[str, Any]]:
    """The reminders of a ticket the actor may see."""
    return reminders_json(ctx, get_ticket(ctx, ref))

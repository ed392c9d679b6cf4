"""The ticket JSON of the brief, and a ticket's history, for every interface that prints them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from tessera.core.context import Context
from tessera.core.errors import NotFound
from tessera.core.fast_sql import fast, ticket_extras
from tessera.core.json_time import json_change, json_time, json_times
from tessera.core.links import LINK_TYPES, REVERSE, links_of
from tessera.core.messages import PRIVATE_TYPES
from tessera.core.models import (
    Attachment,
    CustomField,
    CustomFieldValue,
    Ticket,
    Transaction,
    User,
    display_id,
)
from tessera.core.reminders import reminders_json
from tessera.core.schemas import TicketOut, TicketOutOfSight
from tessera.core.squelch import squelched_of
from tessera.core.ticket_read import get_ticket
from tessera.core.watchers import WATCHER_ROLES, group_label, group_watchers_of, watchers_of


def _iso(value: datetime | None) -> str | None:
    return json_time(value)


def custom_fields_of(ctx: Context, ticket: Ticket) -> dict[str, str | list[str] | None]:
    from tessera.core.customfields import fields_for_queue

    fields = [(cf.id, cf.name, cf.multiple) for cf in fields_for_queue(ctx, ticket.queue_id)]
    rows = ctx.session.execute(
        select(
            CustomFieldValue.custom_field_id, CustomField.name, CustomField.multiple, CustomFieldValue.value
        )
        .join(CustomField, CustomField.id == CustomFieldValue.custom_field_id)
        .where(CustomFieldValue.ticket_id == ticket.id)
        .order_by(CustomFieldValue.id)
    ).all()
    return _custom_fields(fields, [tuple(r) for r in rows])


def _custom_fields(fields: list[Any], values: list[Any]) -> dict[str, str | list[str] | None]:
    """Each field of the ticket's queue by name (a list where it takes several values), then any
    value kept from a field the ticket no longer has (a queue it left, a field since disabled)."""
    got: dict[int, list[str]] = {}
    kept: dict[int, tuple[str, bool]] = {}
    for cf_id, name, multiple, value in values:
        got.setdefault(cf_id, []).append(value)
        kept[cf_id] = (name, multiple)
    out: dict[str, str | list[str] | None] = {}
    for cf_id, name, multiple in fields:
        mine = got.pop(cf_id, [])
        out[name] = mine if multiple else (mine[0] if mine else None)
    for cf_id in sorted(got):
        name, multiple = kept[cf_id]
        out[name] = got[cf_id] if multiple else got[cf_id][0]
    return out


def _person(user: User) -> str:
    return user.email or user.name


def out_of_sight_note(ticket_id: int) -> str:
    """What a change that took the ticket out of its author's sight says of it (the change was made)."""
    return f"{display_id(ticket_id)} is now out of your sight (you may no longer see it)"


def changed_ticket_json(ctx: Context, ticket_id: int) -> tuple[dict[str, Any], Ticket | None]:
    """The answer to a change of ticket `ticket_id` that committed: the ticket JSON, with the
    ticket; or, when the change (or a scrip it ran) took it out of the actor's sight (moved it into
    a queue they may not see, gave away the ownership they saw it through), `TicketOutOfSight` and
    None: the change was made, and saying "no ticket" after it would read as a failure."""
    try:
        ticket = get_ticket(ctx, ticket_id)
    except NotFound:
        gone = TicketOutOfSight(
            id=ticket_id, display_id=display_id(ticket_id), visible=False, note=out_of_sight_note(ticket_id)
        )
        return gone.model_dump(mode="json"), None
    return ticket_json(ctx, ticket), ticket


def ticket_json(ctx: Context, ticket: Ticket) -> dict[str, Any]:
    """The brief's ticket JSON, checked against `TicketOut` so its keys never drift."""
    return TicketOut.model_validate(_ticket_fields(ctx, ticket)).model_dump(mode="json")


def _extras(
    ctx: Context, ticket: Ticket
) -> tuple[dict[str, list[str]], dict[str, list[int]], Any, list[int], list[dict[str, Any]], list[str]]:
    """People by role, links by kind, custom fields, merged ids and reminders: one round trip on
    the fast path (fast_sql.TICKET_EXTRAS_SQL), the ORM's six reads inside `plain_orm()`; the
    tests compare the two for tickets with every kind of each."""
    if not fast():
        people = {
            role: [_person(u) for u in users]
            for role, users in watchers_of(ctx, [ticket.id])[ticket.id].items()
        }
        for role, groups in group_watchers_of(ctx, [ticket.id])[ticket.id].items():
            people[role] += [group_label(g) for g in groups]
        merged = list(
            ctx.session.scalars(
                select(Ticket.id).where(Ticket.merged_into_id == ticket.id).order_by(Ticket.id)
            )
        )
        reminders = reminders_json(ctx, ticket)
        squelched = squelched_of(ctx, ticket.id)
        return people, links_of(ctx, ticket.id), custom_fields_of(ctx, ticket), merged, reminders, squelched
    extras = ticket_extras(ctx.session, ticket.id, ticket.queue_id)
    watchers, link_rows, fields, values, merged, reminder_rows, squelched = extras
    people = {role: [] for role in WATCHER_ROLES}
    for role, who in watchers:
        people[role].append(who)
    links: dict[str, list[int]] = {k: [] for k in (*LINK_TYPES, *REVERSE.values())}
    for base_id, kind, target_id in link_rows:
        if base_id == ticket.id:
            links[kind].append(target_id)
        else:
            links[REVERSE[kind]].append(base_id)
    keys = ("id", "subject", "owner", "due", "status", "created", "resolved")
    reminders = [dict(zip(keys, row, strict=True)) for row in reminder_rows]
    return people, links, _custom_fields(fields, values), merged, reminders, list(squelched)


def _ticket_fields(ctx: Context, ticket: Ticket) -> dict[str, Any]:
    people, links, custom_fields, merged, reminders, squelched = _extras(ctx, ticket)
    return {
        "id": ticket.id,
        "display_id": ticket.display_id,
        "queue": ticket.queue.name,
        "subject": ticket.subject,
        "status": ticket.status,
        "owner": ticket.owner.name if ticket.owner is not None else None,
        "requestors": people["Requestor"],
        "cc": people["Cc"],
        "admincc": people["AdminCc"],
        "priority": ticket.priority,
        "initial_priority": ticket.initial_priority,
        "final_priority": ticket.final_priority,
        "time_worked": ticket.time_worked,
        "time_estimated": ticket.time_estimated,
        "time_left": ticket.time_left,
        "created": _iso(ticket.created),
        "updated": _iso(ticket.updated),
        "started": _iso(ticket.started),
        "resolved": _iso(ticket.resolved),
        "due": _iso(ticket.due),
        "starts": _iso(ticket.starts),
        "told": _iso(ticket.told),
        "sla": ticket.sla,
        "sla_time_left": _sla_time_left(ctx, ticket),
        "sla_clock": _sla_clock(ctx, ticket),
        "custom_fields": custom_fields,
        "links": {
            "depends_on": [display_id(i) for i in links["DependsOn"]],
            "depended_on_by": [display_id(i) for i in links["DependedOnBy"]],
            "refers_to": [display_id(i) for i in links["RefersTo"]],
            "referred_to_by": [display_id(i) for i in links["ReferredToBy"]],
            "member_of": [display_id(i) for i in links["MemberOf"]],
            "has_member": [display_id(i) for i in links["HasMember"]],
        },
        "merged_from": [display_id(i) for i in merged],
        "reminders": reminders,
        "squelched": squelched,
        "version": ticket.version,
    }


def _sla_time_left(ctx: Context, ticket: Ticket) -> int | None:
    """Business minutes from now to Due on the ticket's service level (negative: overdue); None
    without one, and once the ticket is inactive in its lifecycle (resolved, rejected...): its
    clock has stopped, it is not overdue."""
    if ticket.sla is None or ticket.due is None:
        return None
    from tessera.core import clock, sla
    from tessera.core.lifecycles.desk import lifecycle_of

    if lifecycle_of(ctx.session, ticket.queue).is_inactive(ticket.status):
        return None

    left = sla.time_left(ctx, ticket, clock.now())
    return None if left is None else int(left.total_seconds() // 60)


def _sla_clock(ctx: Context, ticket: Ticket) -> str | None:
    """What `sla_time_left` counts: "business" time on the level's calendar, or "real" time."""
    if ticket.sla is None:
        return None
    from tessera.core import sla

    return sla.clock_of(ctx, ticket)


def _attachment_json(part: Attachment) -> dict[str, Any]:
    return {"id": part.id, "filename": part.filename, "content_type": part.content_type, "size": part.size}


def history(
    ctx: Context, ticket: Ticket, *, limit: int | None = None, before: int | None = None
) -> list[dict[str, Any]]:
    """Every transaction, oldest first, with its message; comments only for those who may see them.

    A page of it, for a reader that shows the newest first (the TUI): with `limit`, only the newest
    `limit` transactions (before transaction id `before`, if given), still oldest first."""
    see_comments = ctx.can("ShowTicketComments", ticket.queue_id, ticket)
    # Who the desk mailed (a one-time Bcc, an AdminCc's notice, a squelched address) and how its
    # scrips ran are the desk's own business: agents see them, a requestor sees the conversation.
    desk_view = ctx.system or ctx.actor.privileged
    query = select(Transaction).where(Transaction.ticket_id == ticket.id)
    if before is not None:
        query = query.where(Transaction.id < before)
    if limit is None:
        txns = list(ctx.session.scalars(query.order_by(Transaction.id)).all())
    else:
        txns = list(ctx.session.scalars(query.order_by(Transaction.id.desc()).limit(limit)).all())
        txns.reverse()
    parts = (
        ctx.session.scalars(
            select(Attachment)
            .where(Attachment.transaction_id.in_([t.id for t in txns]))
            .order_by(Attachment.id)
        ).all()
        if txns
        else []
    )
    by_txn: dict[int, list[Attachment]] = {}
    for part in parts:
        by_txn.setdefault(part.transaction_id, []).append(part)
    from tessera.core.models.scrips import trace_for_transactions
    from tessera.core.outgoing import outgoing_for_transactions

    traces = trace_for_transactions(ctx.session, [t.id for t in txns]) if desk_view else {}
    # The mail each transaction sent, recipient by recipient (a comment's only to those who may
    # read the comment: its notice quotes it).
    readable = [t.id for t in txns if desk_view and (t.type not in PRIVATE_TYPES or see_comments)]
    outgoing = outgoing_for_transactions(ctx.session, {t.ticket_id for t in txns}, readable)
    out = []
    for txn in txns:
        entry: dict[str, Any] = {
            "id": txn.id,
            "type": txn.type,
            "field": txn.field,
            "old": json_change(txn.field, txn.old_value),
            "new": json_change(txn.field, txn.new_value),
            "actor": txn.actor.name if txn.actor is not None else None,
            "created": _iso(txn.created),
            "data": json_times(_data_for(txn, see_comments, desk_view)),
            "message": None,
            "scrips": traces.get(txn.id, []),
            "outgoing": outgoing.get(txn.id, []),
        }
        tree = by_txn.get(txn.id, [])
        if tree and (txn.type not in PRIVATE_TYPES or see_comments):
            root = tree[0]
            body = next((p for p in tree if p.content is not None and not p.filename), None)
            entry["message"] = {
                "message_id": root.message_id,
                "subject": root.subject,
                "content_type": body.content_type if body else root.content_type,
                "content": body.content if body else None,
                "attachments": [_attachment_json(p) for p in tree if p.filename],
            }
        elif tree:
            entry["message"] = {"hidden": True, "reason": "needs ShowTicketComments"}
        out.append(entry)
    return out


_DESK_ONLY_DATA = ("bcc", "squelch")


def _data_for(txn: Transaction, see_comments: bool, desk_view: bool) -> Any:
    """A transaction's data as this reader may see it: none of a comment's without
    ShowTicketComments, and no one-time Bcc or squelched address for a requestor."""
    if txn.type in PRIVATE_TYPES and not see_comments:
        return None
    data = txn.data
    if desk_view or not isinstance(data, dict):
        return data
    return {k: v for k, v in data.items() if k not in _DESK_ONLY_DATA}


def history_counts(ctx: Context, ticket: Ticket) -> dict[str, int]:
    """How many transactions of each type the ticket has (what a page of its history leaves out)."""
    rows = ctx.session.execute(
        select(Transaction.type, func.count())
        .where(Transaction.ticket_id == ticket.id)
        .group_by(Transaction.type)
    ).all()
    return {kind: int(count) for kind, count in rows}


def undelivered(ctx: Context, ticket: Ticket) -> list[str]:
    """Who was refused mail about this ticket and not sent it since (a retry clears the mark):
    "address (mail #12)", oldest first; a comment's mail only for those who may see comments."""
    from sqlalchemy import Text, cast, or_

    from tessera.core.models import OutboxMessage
    from tessera.core.outgoing import REFUSED, outgoing_json

    # Only the messages that may have a refusal (the rest are most of them, bodies and all).
    refusals = or_(
        OutboxMessage.status.notin_(("pending", "sending", "sent")),
        cast(OutboxMessage.delivery, Text).contains(REFUSED),
    )
    query = (
        select(OutboxMessage)
        .join(Transaction, Transaction.id == OutboxMessage.transaction_id)
        .where(OutboxMessage.ticket_id == ticket.id, OutboxMessage.mail_from != "", refusals)
        .order_by(OutboxMessage.id)
    )
    if not ctx.can("ShowTicketComments", ticket.queue_id, ticket):
        query = query.where(Transaction.type != "Comment")
    out: list[str] = []
    for row in ctx.session.scalars(query):
        mail = outgoing_json(row)
        for rcpt in mail.get("recipients") or []:
            if rcpt.get("state") == "refused":
                out.append(f"{rcpt.get('address')} (mail #{mail.get('id')})")
    return out


# -- the desk's structure, as `--json` prints it and the API answers --------------------------------


def queue_json(queue: Any) -> dict[str, Any]:
    return {
        "id": queue.id,
        "name": queue.name,
        "description": queue.description,
        "correspond_address": queue.correspond_address,
        "comment_address": queue.comment_address,
        "lifecycle": queue.lifecycle,
        "disabled": queue.disabled,
        "subject_tag": queue.subject_tag,
    }


def custom_field_json(cf: Any, scopes: dict[int, str]) -> dict[str, Any]:
    return {
        "id": cf.id,
        "name": cf.name,
        "type": cf.type,
        "multiple": cf.multiple,
        "values": [o.value for o in cf.options],
        "pattern": cf.pattern,
        "queue_id": cf.queue_id,
        "queue": scopes.get(cf.queue_id) if cf.queue_id is not None else None,
        "description": cf.description,
        "disabled": cf.disabled,
    }


def lifecycle_summary_json(summary: Any) -> dict[str, Any]:
    return {
        "name": summary.name,
        "initial": summary.initial,
        "active": summary.active,
        "inactive": summary.inactive,
        "queues": summary.queues,
        "updated": _iso(summary.updated),
    }

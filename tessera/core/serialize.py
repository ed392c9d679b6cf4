"""The ticket JSON of the brief, and a ticket's history, for every interface that prints them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from tessera.core.context import Context
from tessera.core.links import links_of
from tessera.core.models import Attachment, CustomField, CustomFieldValue, Ticket, Transaction, display_id
from tessera.core.schemas import TicketOut
from tessera.core.watchers import watchers_of


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def custom_fields_of(ctx: Context, ticket: Ticket) -> dict[str, str | list[str] | None]:
    from tessera.core.customfields import fields_for_queue

    fields = fields_for_queue(ctx, ticket.queue_id)
    rows = ctx.session.execute(
        select(CustomFieldValue.custom_field_id, CustomFieldValue.value)
        .where(CustomFieldValue.ticket_id == ticket.id)
        .order_by(CustomFieldValue.id)
    ).all()
    values: dict[int, list[str]] = {}
    for cf_id, value in rows:
        values.setdefault(cf_id, []).append(value)
    out: dict[str, str | list[str] | None] = {}
    known: dict[int, CustomField] = {cf.id: cf for cf in fields}
    for cf in fields:
        got = values.get(cf.id, [])
        out[cf.name] = got if cf.multiple else (got[0] if got else None)
    for cf_id in set(values) - set(known):  # a value kept from a queue the ticket left
        cf = ctx.session.get(CustomField, cf_id)
        if cf is not None:
            out[cf.name] = values[cf_id] if cf.multiple else values[cf_id][0]
    return out


def _person(user: Any) -> str:
    return user.email or user.name


def ticket_json(ctx: Context, ticket: Ticket) -> dict[str, Any]:
    """The brief's ticket JSON, checked against `TicketOut` so its keys never drift."""
    return TicketOut.model_validate(_ticket_fields(ctx, ticket)).model_dump(mode="json")


def _ticket_fields(ctx: Context, ticket: Ticket) -> dict[str, Any]:
    people = watchers_of(ctx, [ticket.id])[ticket.id]
    links = links_of(ctx, ticket.id)
    return {
        "id": ticket.id,
        "display_id": ticket.display_id,
        "queue": ticket.queue.name,
        "subject": ticket.subject,
        "status": ticket.status,
        "owner": ticket.owner.name if ticket.owner is not None else None,
        "requestors": [_person(u) for u in people["Requestor"]],
        "cc": [_person(u) for u in people["Cc"]],
        "admincc": [_person(u) for u in people["AdminCc"]],
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
        "custom_fields": custom_fields_of(ctx, ticket),
        "links": {
            "depends_on": [display_id(i) for i in links["DependsOn"]],
            "depended_on_by": [display_id(i) for i in links["DependedOnBy"]],
            "refers_to": [display_id(i) for i in links["RefersTo"]],
            "referred_to_by": [display_id(i) for i in links["ReferredToBy"]],
            "member_of": [display_id(i) for i in links["MemberOf"]],
            "has_member": [display_id(i) for i in links["HasMember"]],
        },
        "merged_from": [
            display_id(i)
            for i in ctx.session.scalars(
                select(Ticket.id).where(Ticket.merged_into_id == ticket.id).order_by(Ticket.id)
            )
        ],
        "version": ticket.version,
    }


def _attachment_json(part: Attachment) -> dict[str, Any]:
    return {"id": part.id, "filename": part.filename, "content_type": part.content_type, "size": part.size}


def history(ctx: Context, ticket: Ticket) -> list[dict[str, Any]]:
    """Every transaction, oldest first, with its message; comments only for those who may see them."""
    see_comments = ctx.can("ShowTicketComments", ticket.queue_id, ticket)
    txns = ctx.session.scalars(
        select(Transaction).where(Transaction.ticket_id == ticket.id).order_by(Transaction.id)
    ).all()
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

    traces = trace_for_transactions(ctx.session, [t.id for t in txns])
    out = []
    for txn in txns:
        entry: dict[str, Any] = {
            "id": txn.id,
            "type": txn.type,
            "field": txn.field,
            "old": txn.old_value,
            "new": txn.new_value,
            "actor": txn.actor.name if txn.actor is not None else None,
            "created": _iso(txn.created),
            "data": txn.data,
            "message": None,
            "scrips": traces.get(txn.id, []),
        }
        tree = by_txn.get(txn.id, [])
        if tree and (txn.type != "Comment" or see_comments):
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

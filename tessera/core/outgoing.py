"""Outgoing mail, recipient by recipient: what became of each address a message was sent to.

The worker (`tessera.mail.delivery`) keeps, in the outbox row's `delivery`, the outcome of each
recipient it tried: `accepted` (the server said 250), `refused` (a permanent 5xx, or given up after
`TESSERA_SMTP_MAX_ATTEMPTS`; with the server's reply) or `deferred` (a 4xx or a failed connection:
tried again for that recipient alone, after its own backoff). A recipient not in it is `queued`.
A message is done when every recipient is accepted or refused: `sent` when all were accepted,
`failed` when one was refused. A refusal is recorded on the ticket as a `DeliveryFailed`
transaction (the scrip condition OnDeliveryFailure fires on it), in the same database transaction
as the outcome.

This module reads that state for every interface (the ticket's history, `tessera mail outbox`) and
makes the changes to it that people make (`retry`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, cast, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONPATH, insert
from sqlalchemy.orm import Session

from tessera.core.context import Context, desk_context, find_user, operation, record
from tessera.core.errors import Conflict, InvalidInput, NotFound
from tessera.core.json_time import json_time, json_times
from tessera.core.models import OutboxMessage, Queue, Ticket, User
from tessera.core.ticket_read import get_ticket, parse_ref

ACCEPTED, REFUSED, DEFERRED, QUEUED, SENDING = "accepted", "refused", "deferred", "queued", "sending"
DONE = (ACCEPTED, REFUSED)
DELIVERY_FAILED = "DeliveryFailed"  # the transaction type a refusal records on the ticket
DELIVERY_USER = "mail-delivery"  # its actor (RT would say RT_System)
MAX_LIMIT = 1000


def recipient_states(row: OutboxMessage) -> list[dict[str, Any]]:
    """Each recipient of `row`, in the message's order, with its state and what the server said."""
    delivery: dict[str, Any] = row.delivery or {}
    out = []
    for address in row.recipients or []:
        got = delivery.get(address)
        if got is None:  # not tried yet, or a row from before per-recipient tracking
            state = {"pending": QUEUED, "sending": SENDING, "sent": ACCEPTED}.get(row.status, REFUSED)
            reply = row.last_error if state == REFUSED else None
            got = {
                "state": state,
                "code": None,
                "reply": reply,
                "attempts": 0,
                "at": None,
                "next_attempt": None,
            }
        out.append({"address": address, **{k: json_times(got.get(k)) for k in _RECIPIENT_KEYS}})
    return out


_RECIPIENT_KEYS = ("state", "code", "reply", "attempts", "at", "next_attempt")


def message_state(row: OutboxMessage) -> str:
    """queued, deferred (a recipient waits for its retry), sending, sent or failed."""
    if row.status == "pending":
        deferred = any(d.get("state") == DEFERRED for d in (row.delivery or {}).values())
        return DEFERRED if deferred else QUEUED
    return row.status


def _iso(value: datetime | None) -> str | None:
    return json_time(value)


def outgoing_json(row: OutboxMessage) -> dict[str, Any]:
    summary = row.summary or {}
    return {
        "id": row.id,
        "ticket": row.ticket_id,
        "transaction": row.transaction_id,
        "scrip": row.scrip_id,
        "subject": summary.get("subject"),
        "state": message_state(row),
        "created": _iso(row.created),
        "next_attempt": _iso(row.next_attempt) if row.status == "pending" else None,
        "last_error": row.last_error,
        "recipients": recipient_states(row),
    }


def outgoing_for_transactions(
    session: Session, ticket_ids: set[int], transaction_ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    """The mail each transaction (of these tickets: the outbox's index) sent, webhooks left out,
    oldest first, for a ticket's history."""
    if not transaction_ids:
        return {}
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.ticket_id.in_(ticket_ids),
            OutboxMessage.transaction_id.in_(transaction_ids),
            OutboxMessage.mail_from != "",
        )
        .order_by(OutboxMessage.id)
    ).all()
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        assert row.transaction_id is not None
        out.setdefault(row.transaction_id, []).append(outgoing_json(row))
    return out


# -- the worker's record of refusals ----------------------------------------------------------------


def _delivery_user(session: Session) -> User:
    user = find_user(session, DELIVERY_USER)
    if user is None:  # two workers at once: one inserts, the other finds it
        session.execute(
            insert(User)
            .values(name=DELIVERY_USER, real_name="Mail delivery (tessera worker)", privileged=False)
            .on_conflict_do_nothing()
        )
        user = find_user(session, DELIVERY_USER)
        assert user is not None
    return user


def record_outcome(
    session: Session, outbox_id: int, values: dict[str, Any], refused: list[dict[str, Any]]
) -> None:
    """Write the outcome of a delivery attempt (`values`: the outbox columns it sets) that refused
    recipients, and record the refusal on the message's ticket, in one database transaction; the
    refusal's scrips (OnDeliveryFailure) run with it."""
    _record_outcome(desk_context(session, _delivery_user(session)), outbox_id, values, refused)


@operation
def _record_outcome(
    ctx: Context, outbox_id: int, values: dict[str, Any], refused: list[dict[str, Any]]
) -> None:
    row = ctx.session.get(OutboxMessage, outbox_id)
    if row is None:
        return
    for key, value in values.items():
        if key != "sent_at" or value is not None:
            setattr(row, key, value)
    if row.ticket_id is None:
        return
    try:
        ticket = get_ticket(ctx, row.ticket_id, for_update=True)
    except NotFound:
        return
    about = None
    if row.transaction_id is not None:
        from tessera.core.models import Transaction

        about = ctx.session.get(Transaction, row.transaction_id)
    record(
        ctx,
        ticket,
        DELIVERY_FAILED,
        new=", ".join(r["address"] for r in refused),
        data={
            "outbox": row.id,
            "message_id": row.message_id,
            "subject": (row.summary or {}).get("subject"),
            "about": row.transaction_id,
            "about_type": about.type if about is not None else None,
            "refused": [
                {"address": r["address"], "code": r.get("code"), "reply": r.get("reply")} for r in refused
            ],
        },
    )


# -- `tessera mail outbox` and `tessera mail retry` ---------------------------------------------------


def _admin_queues(ctx: Context) -> set[int] | None:
    """The queues whose outgoing mail the actor may see (AdminQueue); None: every message."""
    if ctx.can("SuperUser"):
        return None
    ids = ctx.session.scalars(select(Queue.id)).all()
    return {qid for qid in ids if ctx.can("AdminQueue", qid)}


def list_outbox(
    ctx: Context, *, failed: bool = False, ticket: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Mail not yet done (queued, deferred, sending) and mail that failed, newest first; with
    `failed`, only messages with a refused recipient. AdminQueue on the ticket's queue (or
    SuperUser: mail on no ticket too)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"--limit must be between 1 and {MAX_LIMIT}")
    query = select(OutboxMessage).where(OutboxMessage.mail_from != "")
    if failed:
        refused = OutboxMessage.delivery.op("@?")(cast(literal('$.* ? (@.state == "refused")'), JSONPATH))
        query = query.where(
            or_(OutboxMessage.status == "failed", and_(OutboxMessage.status == "pending", refused))
        )
    else:
        query = query.where(OutboxMessage.status.in_(("pending", "sending", "failed")))
    if ticket is not None:
        found = get_ticket(ctx, parse_ref(ticket))
        query = query.where(OutboxMessage.ticket_id == found.id)
    queues = _admin_queues(ctx)
    if queues is not None:
        if not queues:
            return []
        query = query.join(Ticket, Ticket.id == OutboxMessage.ticket_id).where(Ticket.queue_id.in_(queues))
    rows = ctx.session.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit)).all()
    return [outgoing_json(row) for row in rows]


@operation
def retry(ctx: Context, outbox_id: int, addresses: list[str] | None = None) -> dict[str, Any]:
    """Queue the refused recipients of message `outbox_id` again (all, or those named), to be sent
    at once: for when the address was fixed. Those who accepted it are not sent it again."""
    row = ctx.session.get(OutboxMessage, outbox_id, with_for_update=True)
    queues = _admin_queues(ctx)
    visible = row is not None and row.mail_from != ""
    if visible and queues is not None:
        queue_id = (
            ctx.session.scalar(select(Ticket.queue_id).where(Ticket.id == row.ticket_id)) if row else None
        )
        visible = queue_id in queues
    if row is None or not visible:
        # Not told apart from a missing one: the ids of others' mail are not a hint.
        raise NotFound(f"no outgoing message #{outbox_id} that {ctx.actor.name} may see")
    if row.status == "sending":
        raise Conflict(f"message #{outbox_id} is being sent right now; try again in a moment")
    delivery = dict(row.delivery or {})
    refused = [a for a in row.recipients if (delivery.get(a) or {}).get("state") == REFUSED]
    if row.status == "failed" and not delivery:  # failed before recipients were tracked: all of them
        refused = list(row.recipients)
    if addresses:
        wanted = {a.strip().lower() for a in addresses}
        known = {a.lower() for a in row.recipients}
        unknown = sorted(wanted - known)
        if unknown:
            raise InvalidInput(f"{unknown[0]} is not a recipient of message #{outbox_id}")
        refused = [a for a in refused if a.lower() in wanted]
        if not refused:
            raise InvalidInput(
                f"{', '.join(sorted(wanted))}: not refused on message #{outbox_id}; nothing to retry"
            )
    if not refused:
        raise InvalidInput(f"message #{outbox_id} has no refused recipient; nothing to retry")
    for address in refused:
        delivery.pop(address, None)
    row.delivery = delivery
    row.status = "pending"
    row.attempts = 0  # the worker gives up on a message that stopped it this many times
    row.next_attempt = ctx.now
    row.last_error = None
    row.claimed_at = None
    row.claimed_by = None
    ctx.session.flush()
    return {"id": row.id, "requeued": refused}

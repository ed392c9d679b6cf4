"""The desk's change feed: transactions after a given id, as the actor may see them.

Transaction ids only grow, so "everything after id N" is a durable cursor: a client that was away
resumes exactly where it stopped (the API's `Last-Event-ID`), which NOTIFY alone cannot give.
NOTIFY only says when to look again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from tessera.core.context import Context
from tessera.core.ids import display_id
from tessera.core.json_time import json_change, json_time
from tessera.core.messages import PRIVATE_TYPES
from tessera.core.models import Ticket, Transaction, User

FEED_BATCH = 500


def latest_id(ctx: Context) -> int:
    return int(ctx.session.scalar(select(func.max(Transaction.id))) or 0)


def after(ctx: Context, last_id: int, limit: int = FEED_BATCH) -> tuple[list[dict[str, Any]], int]:
    """Up to `limit` changes after `last_id` on tickets the actor may see, and the new cursor (the
    last id read, seen or not, so invisible changes are not read again)."""
    rows = ctx.session.execute(
        select(Transaction, Ticket, User.name)
        .join(Ticket, Ticket.id == Transaction.ticket_id)
        .outerjoin(User, User.id == Transaction.actor_id)
        .where(Transaction.id > last_id)
        .order_by(Transaction.id)
        .limit(limit)
    ).all()
    events = []
    cursor = last_id
    for txn, ticket, actor in rows:
        cursor = txn.id
        if not ctx.can("ShowTicket", ticket.queue_id, ticket):
            continue
        if txn.type in PRIVATE_TYPES and not ctx.can_any(("ShowTicketComments",), ticket.queue_id, ticket):
            continue
        events.append(
            {
                "id": txn.id,
                "ticket": ticket.id,
                "display_id": display_id(ticket.id),
                "queue": ticket.queue.name,
                "type": txn.type,
                "field": txn.field,
                "old": json_change(txn.field, txn.old_value),
                "new": json_change(txn.field, txn.new_value),
                "actor": actor,
                "created": json_time(txn.created),
            }
        )
    ctx.session.rollback()  # read-only: hold no snapshot between polls
    return events, cursor

"""Machine intake: idempotent requests and alert deduplication, both kept in the database.

* An `Idempotency-Key` names one request of one user: its first reply is stored in the same
  database transaction as the change it made, so a retry (after a timeout, from any API process)
  gets that reply and changes nothing. Keys are kept at least `IDEMPOTENCY_TTL`.
* A `dedup_key` (an alert's fingerprint) names a problem: while a ticket opened with that key is
  active in its queue, a repeat is added to that ticket instead of opening another.
Concurrent requests with the same key queue on a transaction-level advisory lock, so two of them
never both act.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text

from tessera.core.context import Context, operation
from tessera.core.errors import InvalidInput
from tessera.core.models import IdempotentReply, Queue, Ticket, TicketDedupKey
from tessera.core.schemas import MessageIn, TicketCreate
from tessera.core.statuses import status_sets

IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_KEY = 200


def _lock(ctx: Context, *parts: object) -> None:
    """A transaction-scoped advisory lock on a name: held until this unit commits or rolls back."""
    name = "\x1f".join(str(part) for part in parts)
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    ctx.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _check_key(key: str, what: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise InvalidInput(f"{what} must be 1 to {MAX_KEY} printable characters")
    return key


@dataclass
class Reply:
    status: int
    body: Any
    replayed: bool


@operation
def idempotent(ctx: Context, key: str, fingerprint: str, act: Callable[[Context], tuple[int, Any]]) -> Reply:
    """Run `act` once per (user, key): a repeat returns the first reply; the reply is stored in the
    same transaction as whatever `act` changed. A key reused for a different request is refused.

    `act` may answer its body as a function: it is called once the unit's scrips ran, just before
    the commit, so the reply (the first and every replay) shows the change with what the scrips
    did to it, as the same request without a key does."""
    key = _check_key(key, "the Idempotency-Key header")
    _lock(ctx, "idempotency", ctx.actor.id, key)
    stored = ctx.session.get(IdempotentReply, (ctx.actor.id, key))
    if stored is not None and ctx.now - stored.created >= IDEMPOTENCY_TTL:
        ctx.session.delete(stored)
        ctx.session.flush()
        stored = None
    if stored is not None:
        if stored.fingerprint != fingerprint:
            raise InvalidInput(
                "this Idempotency-Key was used for a different request: use a new key for a new request"
            )
        return Reply(stored.status, stored.body, replayed=True)
    status, body = act(ctx)
    reply = Reply(status, body, replayed=False)

    def store() -> None:
        if callable(reply.body):
            reply.body = reply.body()
        ctx.session.add(
            IdempotentReply(
                user_id=ctx.actor.id, key=key, fingerprint=fingerprint, status=status, body=reply.body
            )
        )

    ctx.before_commit.append(store)
    return reply


@dataclass(frozen=True)
class Intake:
    ticket: Ticket
    created: bool  # False: the message was added to the active ticket with the same dedup key


@operation
def create_or_add(
    ctx: Context, data: TicketCreate, dedup_key: str | None, action: str = "correspond"
) -> Intake:
    """Open a ticket, or, while one opened with the same `dedup_key` is active in that queue, add the
    message to it (as correspondence or a comment)."""
    from tessera.core import tickets

    if dedup_key is None:
        return Intake(tickets.create_ticket(ctx, data), True)
    if action not in ("correspond", "comment"):
        raise InvalidInput(f"dedup_action must be correspond or comment, not {action!r}")
    dedup_key = _check_key(dedup_key, "dedup_key")
    queue = ctx.session.scalars(
        select(Queue).where(func.lower(Queue.name) == data.queue.strip().lower())
    ).first()
    if queue is not None:
        _lock(ctx, "dedup", queue.id, dedup_key)
        active = sorted(status_sets(ctx.session, queue).active)
        existing = ctx.session.scalars(
            select(TicketDedupKey.ticket_id)
            .join(Ticket, Ticket.id == TicketDedupKey.ticket_id)
            .where(
                TicketDedupKey.queue_id == queue.id,
                TicketDedupKey.key == dedup_key,
                Ticket.queue_id == queue.id,
                Ticket.merged_into_id.is_(None),
                func.lower(Ticket.status).in_(active),
            )
            .order_by(Ticket.id.desc())
        ).first()
        if existing is not None:
            message = data.message if data.message.body or data.message.attachments else _repeat(data)
            post = tickets.correspond if action == "correspond" else tickets.comment
            post(ctx, existing, message)
            return Intake(tickets.get_ticket(ctx, existing), False)
    ticket = tickets.create_ticket(ctx, data)
    ctx.session.add(TicketDedupKey(ticket_id=ticket.id, queue_id=ticket.queue_id, key=dedup_key))
    return Intake(ticket, True)


def _repeat(data: TicketCreate) -> MessageIn:
    """A repeat with no body still leaves a trace on the ticket: its subject."""
    return MessageIn(body=f"Repeated: {data.subject}".strip())

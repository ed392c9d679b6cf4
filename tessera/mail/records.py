"""What the gateway decided about each received message, for the people who run the desk.

Every message is a row in `inbound_mail` (see `gateway`): what it became, or why it was dropped
(robot, loop, refused stranger, quarantine) and the raw bytes. A queue's admins need to see that
row to answer "where did my mail go?"; the raw message may hold anything, so reading it needs
AdminQueue on the queue the mail came in through (SuperUser sees every queue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from tessera.core.context import Context
from tessera.core.errors import InvalidInput, NotFound, PermissionDenied
from tessera.core.models import InboundMail, Queue
from tessera.core.queues import get_queue

ACTIONS = ("create", "correspond", "comment", "dropped")
MAX_LIMIT = 1000


@dataclass
class InboundRecord:
    id: int
    received: datetime
    queue: str | None
    requested_action: str
    action: str
    classification: str | None
    ticket: int | None
    sender: str | None
    subject: str | None
    message_id: str | None
    size: int
    reason: str
    raw_kept: bool

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _admin_queues(ctx: Context) -> dict[int, str]:
    rows = ctx.session.execute(select(Queue.id, Queue.name)).all()
    return {qid: name for qid, name in rows if ctx.can("AdminQueue", qid)}


def _record(row: InboundMail, queues: dict[int, str]) -> InboundRecord:
    return InboundRecord(
        id=row.id,
        received=row.received,
        queue=queues.get(row.queue_id) if row.queue_id else None,
        requested_action=row.requested_action,
        action=row.action,
        classification=row.classification,
        ticket=row.ticket_id,
        sender=row.sender,
        subject=row.subject,
        message_id=row.message_id,
        size=row.size,
        reason=row.reason,
        raw_kept=row.raw is not None,
    )


def list_inbound(
    ctx: Context, *, queue: str | None = None, action: str | None = None, limit: int = 50
) -> list[InboundRecord]:
    """The newest received messages the actor may see, newest first."""
    if action is not None and action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r} (use {', '.join(ACTIONS)})")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"--limit must be between 1 and {MAX_LIMIT}")
    queues = _admin_queues(ctx)
    wanted = set(queues)
    if queue is not None:
        found = get_queue(ctx, queue)
        if found.id not in queues:
            who = ctx.actor.name
            raise PermissionDenied(f"{who} may not see the mail of queue {found.name} (needs AdminQueue)")
        wanted = {found.id}
    if not wanted:
        return []
    query = select(InboundMail).where(InboundMail.queue_id.in_(wanted))
    if action is not None:
        query = query.where(InboundMail.action == action)
    rows = ctx.session.scalars(query.order_by(InboundMail.id.desc()).limit(limit)).all()
    return [_record(row, queues) for row in rows]


def get_inbound(ctx: Context, inbound_id: int) -> tuple[InboundRecord, bytes | None]:
    """One received message and its raw bytes (None when it was over the size limit)."""
    row = ctx.session.get(InboundMail, inbound_id)
    queues = _admin_queues(ctx)
    if row is None or row.queue_id not in queues:
        # Not told apart from a missing one: the ids of others' mail are not a hint.
        raise NotFound(f"no received message #{inbound_id} that {ctx.actor.name} may see")
    return _record(row, queues), row.raw

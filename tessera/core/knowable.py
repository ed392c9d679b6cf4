"""What an actor may know exists: naming a queue, custom field or user they may not know answers
exactly as naming one that does not exist, so no one learns names by guessing them (in searches,
completion, and every command that takes a name).

* A queue is known to whoever holds a right that shows it (SeeQueue, ShowTicket, CreateTicket,
  AdminQueue) there or globally, and to a requestor who holds a role on a ticket in it that they
  may see.
* A custom field is known when it is global or its queue is known.
* Users are known to agents (who may list them) and to AdminUsers; a requestor knows themselves.
* Lifecycles and their statuses are not secret (`lifecycle list` shows them to everyone, as RT
  shows statuses), groups are listed to agents only and named only by commands that check the
  admin right first, and saved searches are found among one's own and the shared ones only.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, exists, or_, select

from tessera.core.context import Context
from tessera.core.models import CustomField, Queue, Ticket, User, Watcher

KNOWING_RIGHTS = ("SeeQueue", "ShowTicket", "CreateTicket", "AdminQueue")


def _directly_known(ctx: Context) -> set[int] | None:
    """Queues known through the actor's own grants (None: every queue)."""
    rights = ctx.rights
    if ctx.system or rights.superuser:
        return None
    if ctx.actor.disabled:
        return set()
    if any(r in rights.direct.get(None, ()) for r in KNOWING_RIGHTS):
        return None
    knowing = set(KNOWING_RIGHTS)
    return {q for q, held in rights.direct.items() if q is not None and held & knowing}


def _through_roles(ctx: Context, queue_ids: Iterable[int] | None = None) -> ColumnElement[bool] | None:
    """For a requestor whose ticket roles show them tickets: the tickets they hold such a role on
    (None when roles show them nothing). Agents know queues by their grants. The role half of
    `search.visibility.visible_filter`, which this module may not import (search imports it)."""
    if ctx.actor.privileged or ctx.actor.disabled:
        return None
    me = ctx.actor.id
    parts: list[ColumnElement[bool]] = []
    for scope, roles in ctx.rights.by_role.items():
        for role, held in roles.items():
            if "ShowTicket" not in held:
                continue
            if role == "Owner":
                holds: ColumnElement[bool] = Ticket.owner_id == me
            else:
                holds = exists().where(
                    Watcher.ticket_id == Ticket.id, Watcher.role == role, Watcher.user_id == me
                )
            parts.append(holds if scope is None else and_(Ticket.queue_id == scope, holds))
    if not parts:
        return None
    # Only the actor's own tickets are looked at (an index each), not every ticket on the desk.
    mine = or_(Ticket.owner_id == me, Ticket.id.in_(select(Watcher.ticket_id).where(Watcher.user_id == me)))
    condition = and_(mine, or_(*parts))
    if queue_ids is not None:
        condition = and_(condition, Ticket.queue_id.in_(sorted(queue_ids)))
    return condition


def known_queue_ids(ctx: Context) -> set[int] | None:
    """Every queue the actor may know (None: all of them)."""
    known = _directly_known(ctx)
    if known is None:
        return None
    roles = _through_roles(ctx)
    if roles is not None:
        known |= set(ctx.session.scalars(select(Ticket.queue_id).where(roles).distinct()))
    return known


def may_know_queue(ctx: Context, queue: Queue) -> bool:
    known = _directly_known(ctx)
    if known is None or queue.id in known:
        return True
    roles = _through_roles(ctx, [queue.id])
    return roles is not None and ctx.session.scalar(select(Ticket.id).where(roles).limit(1)) is not None


def may_know_field(ctx: Context, cf: CustomField) -> bool:
    if cf.queue_id is None:
        return True
    queue = ctx.session.get(Queue, cf.queue_id)
    return queue is not None and may_know_queue(ctx, queue)


def known_fields(ctx: Context, fields: Iterable[CustomField]) -> list[CustomField]:
    """The fields of `fields` the actor may know (the known queues read once)."""
    fields = list(fields)
    if all(cf.queue_id is None for cf in fields):
        return fields
    queues = known_queue_ids(ctx)
    return [cf for cf in fields if cf.queue_id is None or queues is None or cf.queue_id in queues]


def may_know_user(ctx: Context, user: User) -> bool:
    return (
        ctx.system
        or ctx.actor.privileged
        or user.id == ctx.actor.id
        or ctx.rights.has("AdminUsers", session=ctx.session)
    )

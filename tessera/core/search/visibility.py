"""Which tickets a user may see, as one SQL condition: results and counts never leak a ticket."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, or_, true

from tessera.core.context import Context
from tessera.core.models import GroupMember, GroupWatcher, Ticket, Watcher


def queues_with_right(ctx: Context, right: str) -> set[int] | None:
    """Queues where the user holds `right` outright (not through a ticket role); None = every queue."""
    if ctx.system or ctx.rights.superuser:
        return None
    if ctx.actor.disabled:
        return set()
    if right in ctx.rights.direct.get(None, set()):
        return None
    return {queue for queue, rights in ctx.rights.direct.items() if queue is not None and right in rights}


def visible_filter(ctx: Context, right: str = "ShowTicket") -> ColumnElement[bool]:
    """Tickets in queues where the user may see tickets, plus those seen through a role they hold."""
    queues = queues_with_right(ctx, right)
    if queues is None:
        return true()
    parts: list[ColumnElement[bool]] = [Ticket.queue_id.in_(sorted(queues))] if queues else []
    if not ctx.actor.disabled:
        for scope, roles in ctx.rights.by_role.items():
            for role, rights in roles.items():
                if right not in rights:
                    continue
                where = true() if scope is None else Ticket.queue_id == scope
                if role == "Owner":
                    holds = Ticket.owner_id == ctx.actor.id
                else:
                    holds = or_(
                        exists().where(
                            Watcher.ticket_id == Ticket.id,
                            Watcher.role == role,
                            Watcher.user_id == ctx.actor.id,
                        ),
                        exists().where(  # through a group in the role
                            GroupWatcher.ticket_id == Ticket.id,
                            GroupWatcher.role == role,
                            GroupMember.group_id == GroupWatcher.group_id,
                            GroupMember.user_id == ctx.actor.id,
                        ),
                    )
                parts.append(and_(where, holds))
    return or_(*parts) if parts else false()

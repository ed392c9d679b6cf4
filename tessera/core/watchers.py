"""Watchers: people in the Requestor, Cc and AdminCc roles of a ticket."""

from __future__ import annotations

from sqlalchemy import select

from tessera.core.context import Context, find_user, operation, record
from tessera.core.desk_addresses import check_watcher
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.models import Ticket, Transaction, User, Watcher
from tessera.core.ticket_read import for_change

WATCHER_ROLES = ("Requestor", "Cc", "AdminCc")


def canonical_watcher_role(role: str) -> str:
    key = role.strip().lower().rstrip("s")
    for name in WATCHER_ROLES:
        if name.lower() == key:
            return name
    raise InvalidInput(f"unknown watcher role {role!r} (roles: {', '.join(WATCHER_ROLES)})")


def a_role(role: str) -> str:
    """`a Cc`, `an AdminCc`: for messages."""
    return f"{'an' if role[0] in 'AEIOU' else 'a'} {role}"


def watchers_of(ctx: Context, ticket_ids: list[int]) -> dict[int, dict[str, list[User]]]:
    """Every ticket's people by role, in one query."""
    out: dict[int, dict[str, list[User]]] = {tid: {r: [] for r in WATCHER_ROLES} for tid in ticket_ids}
    if not ticket_ids:
        return out
    rows = ctx.session.scalars(
        select(Watcher)
        .where(Watcher.ticket_id.in_(ticket_ids))
        .order_by(Watcher.ticket_id, Watcher.role, Watcher.user_id)
    )
    for w in rows:
        out[w.ticket_id][w.role].append(w.user)
    return out


def _require(ctx: Context, ticket: Ticket, role: str, user: User, verb: str) -> None:
    if user.id == ctx.actor.id:
        own = "WatchAsAdminCc" if role == "AdminCc" else "Watch"
        ctx.require(
            (own, "ModifyTicket"),
            f"{verb} yourself as {role} on",
            ticket.display_id,
            queue_id=ticket.queue_id,
            ticket=ticket,
        )
    else:
        ctx.require(
            "ModifyTicket",
            f"{verb} {role} watchers on",
            ticket.display_id,
            queue_id=ticket.queue_id,
            ticket=ticket,
        )


@operation
def add_watcher(
    ctx: Context, ref: str | int, role: str, who: str, *, expected_version: int | None = None
) -> Transaction | None:
    """Add a user (by name or address; an unknown address becomes a new requestor-type user)."""
    from tessera.core.users import user_for_address

    ticket = for_change(ctx, ref, expected_version)
    role = canonical_watcher_role(role)
    user = find_user(ctx.session, who)
    if user is None:
        if "@" not in who:
            raise NotFound(f"unknown user {who!r}")
        user = user_for_address(ctx, who)
    _require(ctx, ticket, role, user, "add")
    check_watcher(ctx.session, user, who, role, ticket.display_id)
    if ctx.session.get(Watcher, (ticket.id, role, user.id)) is not None:
        return None
    ctx.session.add(Watcher(ticket_id=ticket.id, role=role, user_id=user.id))
    ctx.rights.forget_ticket(ticket.id)
    return record(
        ctx, ticket, "AddWatcher", field=role, new=user.email or user.name, data={"user_id": user.id}
    )


@operation
def remove_watcher(
    ctx: Context, ref: str | int, role: str, who: str, *, expected_version: int | None = None
) -> Transaction | None:
    ticket = for_change(ctx, ref, expected_version)
    role = canonical_watcher_role(role)
    user = find_user(ctx.session, who)
    if user is None:
        raise NotFound(f"unknown user {who!r}")
    _require(ctx, ticket, role, user, "remove")
    existing = ctx.session.get(Watcher, (ticket.id, role, user.id))
    if existing is None:
        raise InvalidInput(f"{user.name} is not {a_role(role)} of {ticket.display_id}")
    ctx.session.delete(existing)
    ctx.rights.forget_ticket(ticket.id)
    return record(
        ctx, ticket, "DelWatcher", field=role, old=user.email or user.name, data={"user_id": user.id}
    )

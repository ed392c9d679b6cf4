"""Watchers: people in the Requestor, Cc and AdminCc roles of a ticket.

A group may be a Cc or AdminCc too (as in RT), named `group:NAME` as grants name principals: its
members receive that role's mail, expanded when the mail is made (see the scrips' recipients)."""

from __future__ import annotations

from sqlalchemy import select

from tessera.core.context import Context, find_user, operation, record
from tessera.core.desk_addresses import check_watcher
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.models import Group, GroupWatcher, Ticket, Transaction, User, Watcher
from tessera.core.ticket_read import for_change

WATCHER_ROLES = ("Requestor", "Cc", "AdminCc")
GROUP_ROLES = ("Cc", "AdminCc")  # a requestor is a person (RT's mail gateway answers one)
GROUP_PREFIX = "group:"


def group_named(ctx: Context, who: str) -> Group | None:
    """The group `who` names (`group:NAME`, as grants name principals), or None for a person."""
    from tessera.core.users import get_group

    kind, sep, name = who.strip().partition(":")
    if not sep or kind.strip().lower() != "group":
        return None
    if not name.strip():
        raise InvalidInput("name a group after group:, e.g. group:Support")
    return get_group(ctx, name)


def group_label(group: Group) -> str:
    """How a group watcher is shown (the ticket's JSON, history): `group:NAME`."""
    return GROUP_PREFIX + group.name


def _group_role(role: str, where: str) -> None:
    if role not in GROUP_ROLES:
        raise InvalidInput(f"a group can be a Cc or an AdminCc of {where}, not {a_role(role)}")


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


def group_watchers_of(ctx: Context, ticket_ids: list[int]) -> dict[int, dict[str, list[Group]]]:
    """Every ticket's group watchers by role (Cc, AdminCc), in one query, by group id."""
    out: dict[int, dict[str, list[Group]]] = {tid: {r: [] for r in GROUP_ROLES} for tid in ticket_ids}
    if not ticket_ids:
        return out
    rows = ctx.session.scalars(
        select(GroupWatcher)
        .where(GroupWatcher.ticket_id.in_(ticket_ids))
        .order_by(GroupWatcher.ticket_id, GroupWatcher.role, GroupWatcher.group_id)
    )
    for w in rows:
        out[w.ticket_id][w.role].append(w.group)
    return out


def _require_group(ctx: Context, ticket: Ticket, role: str, verb: str) -> None:
    ctx.require(
        "ModifyTicket",
        f"{verb} {role} watchers on",
        ticket.display_id,
        queue_id=ticket.queue_id,
        ticket=ticket,
    )


def _add_group(ctx: Context, ticket: Ticket, role: str, group: Group) -> Transaction | None:
    _group_role(role, ticket.display_id)
    _require_group(ctx, ticket, role, "add")
    if ctx.session.get(GroupWatcher, (ticket.id, role, group.id)) is not None:
        return None
    ctx.session.add(GroupWatcher(ticket_id=ticket.id, role=role, group_id=group.id))
    ctx.rights.forget_ticket(ticket.id)
    return record(ctx, ticket, "AddWatcher", field=role, new=group_label(group), data={"group_id": group.id})


def _remove_group(ctx: Context, ticket: Ticket, role: str, group: Group) -> Transaction | None:
    _require_group(ctx, ticket, role, "remove")
    existing = ctx.session.get(GroupWatcher, (ticket.id, role, group.id))
    if existing is None:
        raise InvalidInput(f"{group_label(group)} is not {a_role(role)} of {ticket.display_id}")
    ctx.session.delete(existing)
    ctx.rights.forget_ticket(ticket.id)
    return record(ctx, ticket, "DelWatcher", field=role, old=group_label(group), data={"group_id": group.id})


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
    """Add a user (by name or address; an unknown address becomes a new requestor-type user), or
    a group (`group:NAME`) as a Cc or AdminCc."""
    from tessera.core.users import user_for_address

    ticket = for_change(ctx, ref, expected_version)
    role = canonical_watcher_role(role)
    group = group_named(ctx, who)
    if group is not None:
        return _add_group(ctx, ticket, role, group)
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
    group = group_named(ctx, who)
    if group is not None:
        return _remove_group(ctx, ticket, role, group)
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

"""Links between tickets (DependsOn, RefersTo, MemberOf) and merging, with RT's rules."""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update

from tessera.core.context import Context, operation, record
from tessera.core.errors import InvalidInput
from tessera.core.lifecycles.rules import DELETED
from tessera.core.models import GroupWatcher, Link, Reminder, Ticket, Transaction, Watcher, display_id
from tessera.core.ticket_read import lock_tickets, parse_ref

LINK_TYPES = ("DependsOn", "RefersTo", "MemberOf")
REVERSE = {"DependsOn": "DependedOnBy", "RefersTo": "ReferredToBy", "MemberOf": "HasMember"}
FORWARD = {v: k for k, v in REVERSE.items()}
ALIASES = {
    "parent": "MemberOf",
    "parents": "MemberOf",
    "child": "HasMember",
    "children": "HasMember",
    "members": "HasMember",
    "dependson": "DependsOn",
    "dependedonby": "DependedOnBy",
    "refersto": "RefersTo",
    "referredtoby": "ReferredToBy",
    "memberof": "MemberOf",
    "hasmember": "HasMember",
    "depends-on": "DependsOn",
    "refers-to": "RefersTo",
    "member-of": "MemberOf",
}


def canonical_link_type(name: str) -> str:
    """Any spelling of the six link names (and parent/child) -> RT's name."""
    found = ALIASES.get(name.strip().lower())
    if found is None:
        names = ", ".join([*LINK_TYPES, *REVERSE.values()])
        raise InvalidInput(f"unknown link type {name!r} (types: {names})")
    return found


def _orient(kind: str, this: Ticket, other: Ticket) -> tuple[str, Ticket, Ticket]:
    """Stored links use only forward names: `A HasMember B` is kept as `B MemberOf A`."""
    if kind in FORWARD:
        return FORWARD[kind], other, this
    return kind, this, other


def _would_cycle(ctx: Context, kind: str, base: Ticket, target: Ticket) -> bool:
    """Would base -> target close a loop of `kind` links (target reaches base already)?"""
    frontier, seen = {target.id}, set()
    while frontier:
        if base.id in frontier:
            return True
        seen |= frontier
        rows = ctx.session.scalars(
            select(Link.target_id).where(Link.type == kind, Link.base_id.in_(frontier))
        ).all()
        frontier = set(rows) - seen
    return False


def _load_pair(ctx: Context, ref: str | int, other_ref: str | int) -> tuple[Ticket, Ticket]:
    this, other = lock_tickets(ctx, ref, other_ref)
    for t in (this, other):
        ctx.require("ModifyTicket", "change links of", t.display_id, queue_id=t.queue_id, ticket=t)
    return this, other


@operation
def add_link(ctx: Context, ref: str | int, kind: str, other_ref: str | int) -> Transaction | None:
    kind = canonical_link_type(kind)
    this, other = _load_pair(ctx, ref, other_ref)
    if this.id == other.id:
        raise InvalidInput(f"{this.display_id} cannot link to itself")
    if DELETED in (other.status, this.status):
        raise InvalidInput("cannot link to a deleted ticket")
    stored, base, target = _orient(kind, this, other)
    if ctx.session.get(Link, (base.id, stored, target.id)) is not None:
        return None
    if stored in ("DependsOn", "MemberOf") and _would_cycle(ctx, stored, base, target):
        raise InvalidInput(f"{base.display_id} {stored} {target.display_id} would make a loop")
    ctx.session.add(Link(base_id=base.id, type=stored, target_id=target.id, created=ctx.now))
    record(ctx, target, "AddLink", field=REVERSE[stored], new=base.display_id)
    return record(ctx, base, "AddLink", field=stored, new=target.display_id)


@operation
def remove_link(ctx: Context, ref: str | int, kind: str, other_ref: str | int) -> Transaction:
    kind = canonical_link_type(kind)
    this, other = _load_pair(ctx, ref, other_ref)
    stored, base, target = _orient(kind, this, other)
    existing = ctx.session.get(Link, (base.id, stored, target.id))
    if existing is None:
        raise InvalidInput(f"there is no link {base.display_id} {stored} {target.display_id}")
    ctx.session.delete(existing)
    record(ctx, target, "DeleteLink", field=REVERSE[stored], old=base.display_id)
    return record(ctx, base, "DeleteLink", field=stored, old=target.display_id)


def links_of(ctx: Context, ticket_id: int) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {k: [] for k in (*LINK_TYPES, *REVERSE.values())}
    rows = ctx.session.execute(
        select(Link.base_id, Link.type, Link.target_id)
        .where(or_(Link.base_id == ticket_id, Link.target_id == ticket_id))
        .order_by(Link.created, Link.base_id, Link.type, Link.target_id)
    ).all()
    for base_id, kind, target_id in rows:
        if base_id == ticket_id:
            out[kind].append(target_id)
        else:
            out[REVERSE[kind]].append(base_id)
    return out


@operation
def merge(ctx: Context, ref: str | int, into_ref: str | int) -> Transaction:
    """RT's merge: history, watchers, links and time move to the survivor; the old id resolves to it."""
    source, target = lock_tickets(ctx, ref, into_ref)
    if source.id == target.id:
        gone = [i for i in (parse_ref(ref), parse_ref(into_ref)) if i != source.id]
        if gone:  # one of the two ids already resolves to the other
            raise InvalidInput(f"{display_id(gone[0])} is already merged into {source.display_id}")
        raise InvalidInput(f"cannot merge {source.display_id} into itself")
    for t in (source, target):
        ctx.require("ModifyTicket", "merge", t.display_id, queue_id=t.queue_id, ticket=t)
    session = ctx.session
    # Tickets merged into the source earlier now point at the survivor.
    session.execute(update(Ticket).where(Ticket.merged_into_id == source.id).values(merged_into_id=target.id))
    # Watchers (not the owner) are copied, silently.
    existing = set(
        session.execute(select(Watcher.role, Watcher.user_id).where(Watcher.ticket_id == target.id)).all()
    )
    for w in session.scalars(select(Watcher).where(Watcher.ticket_id == source.id)).all():
        if (w.role, w.user_id) not in existing:
            session.add(Watcher(ticket_id=target.id, role=w.role, user_id=w.user_id))
    held = set(
        session.execute(
            select(GroupWatcher.role, GroupWatcher.group_id).where(GroupWatcher.ticket_id == target.id)
        ).all()
    )
    for g in session.scalars(select(GroupWatcher).where(GroupWatcher.ticket_id == source.id)).all():
        if (g.role, g.group_id) not in held:
            session.add(GroupWatcher(ticket_id=target.id, role=g.role, group_id=g.group_id))
    # Links move; duplicates and links that would point at the survivor itself are dropped.
    links = session.execute(
        select(Link.base_id, Link.type, Link.target_id).where(
            or_(Link.base_id == source.id, Link.target_id == source.id)
        )
    ).all()
    session.execute(delete(Link).where(or_(Link.base_id == source.id, Link.target_id == source.id)))
    session.flush()
    for base_id, kind, target_id in links:
        base_id = target.id if base_id == source.id else base_id
        target_id = target.id if target_id == source.id else target_id
        if base_id != target_id and session.get(Link, (base_id, kind, target_id)) is None:
            session.add(Link(base_id=base_id, type=kind, target_id=target_id, created=ctx.now))
    # History moves to the survivor.
    session.execute(update(Transaction).where(Transaction.ticket_id == source.id).values(ticket_id=target.id))
    # Reminders follow their ticket into the survivor (as RT's reminder links are moved).
    session.execute(update(Reminder).where(Reminder.ticket_id == source.id).values(ticket_id=target.id))
    for field in ("time_worked", "time_estimated", "time_left"):
        setattr(target, field, getattr(target, field) + getattr(source, field))
    source.merged_into_id = target.id
    source.updated = ctx.now
    source.updated_by_id = ctx.actor.id
    ctx.touched[source.id] = source
    return record(
        ctx,
        target,
        "Merged",
        field="MergedInto",
        old=source.display_id,
        new=target.display_id,
        data={"source_id": source.id},
    )

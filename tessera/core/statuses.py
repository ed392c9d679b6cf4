"""The lifecycle hook of core: every status a ticket gets passes through here.

Lifecycles are stored in the database (table `lifecycles`); the shipped ones are written there on
first use. A status change is checked against the ticket's queue's lifecycle (a valid status, an
allowed transition, the transition's right) and then applied with RT's date rules: Started is set
once, when a ticket first leaves an initial status; Resolved each time it enters an inactive one.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.core.context import Context, record
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.lifecycle import Lifecycle, lifecycle_from_dict
from tessera.core.lifecycles_builtin import builtin_lifecycles
from tessera.core.models import LifecycleRecord, Link, Queue, Ticket, Transaction

_CACHE_KEY = "tessera.lifecycles"


def ensure_builtin_lifecycles(session: Session) -> None:
    """Write the shipped lifecycles the database does not have yet (never overwrites edits)."""
    have = set(session.scalars(select(LifecycleRecord.name)))
    for lifecycle in builtin_lifecycles():
        if lifecycle.name not in have:
            session.add(LifecycleRecord(name=lifecycle.name, definition=lifecycle.to_dict()))
    session.flush()


def lifecycle_names(session: Session) -> list[str]:
    names = list(session.scalars(select(LifecycleRecord.name).order_by(LifecycleRecord.name)))
    return names or [lc.name for lc in builtin_lifecycles()]


def _cache(session: Session) -> dict[str, Lifecycle]:
    return session.info.setdefault(_CACHE_KEY, {})


def forget_lifecycles(session: Session) -> None:
    session.info.pop(_CACHE_KEY, None)


def lifecycle_by_name(session: Session, name: str) -> Lifecycle:
    cache = _cache(session)
    if name in cache:
        return cache[name]
    row = session.get(LifecycleRecord, name)
    if row is None:
        row = session.scalars(
            select(LifecycleRecord).where(func.lower(LifecycleRecord.name) == name.lower())
        ).first()
    if row is not None:
        lifecycle = lifecycle_from_dict(row.definition)
    else:
        builtin = {lc.name: lc for lc in builtin_lifecycles()}
        if name not in builtin:
            raise NotFound(f"unknown lifecycle {name!r}")
        lifecycle = builtin[name]
    cache[name] = lifecycle
    return lifecycle


def lifecycle_of(session: Session, queue: Queue) -> Lifecycle:
    return lifecycle_by_name(session, queue.lifecycle)


def creation_status(ctx: Context, queue: Queue, requested: str | None) -> str:
    """The status a new ticket gets: the lifecycle's on_create unless asked, and always allowed from ''."""
    lifecycle = lifecycle_of(ctx.session, queue)
    status = (requested or lifecycle.on_create).strip().lower()
    if not lifecycle.is_valid(status):
        raise InvalidInput(
            f"{status!r} isn't a valid status in lifecycle {lifecycle.name!r} "
            f"(statuses: {', '.join(lifecycle.statuses)})"
        )
    lifecycle.check_transition(None, status)
    return status


def apply_dates(ctx: Context, ticket: Ticket, lifecycle: Lifecycle, old: str | None, new: str) -> None:
    """RT: Started once, on first leaving an initial status; Resolved on entering inactive, kept on reopen."""
    if (
        ticket.started is None
        and lifecycle.category(new) != "initial"
        and (old is None or lifecycle.category(old) == "initial")
    ):
        ticket.started = ctx.now
    if lifecycle.category(new) == "inactive":
        ticket.resolved = ctx.now


def unresolved_dependencies(ctx: Context, ticket: Ticket, lifecycle: Lifecycle) -> list[Ticket]:
    targets = ctx.session.scalars(
        select(Ticket)
        .join(Link, Link.target_id == Ticket.id)
        .where(Link.base_id == ticket.id, Link.type == "DependsOn")
    ).all()
    open_ones = []
    for target in targets:
        target_lifecycle = lifecycle_of(ctx.session, target.queue)
        if target_lifecycle.category(target.status) != "inactive":
            open_ones.append(target)
    return open_ones


def change_status(ctx: Context, ticket: Ticket, requested: str, *, force: bool = False) -> Transaction | None:
    """Check the lifecycle and the actor's right, then change; None when the status is unchanged."""
    lifecycle = lifecycle_of(ctx.session, ticket.queue)
    new = requested.strip().lower()
    old = ticket.status
    if not lifecycle.is_valid(new):
        raise InvalidInput(
            f"{requested!r} isn't a valid status in lifecycle {lifecycle.name!r} "
            f"(statuses: {', '.join(lifecycle.statuses)})"
        )
    if new == old:
        return None
    lifecycle.check_transition(old, new)
    right = lifecycle.right_for(old, new)
    ctx.require(
        right,
        f"change the status {old} -> {new} of",
        ticket.display_id,
        queue_id=ticket.queue_id,
        ticket=ticket,
    )
    if not force and lifecycle.category(old) != "inactive" and lifecycle.category(new) == "inactive":
        blockers = unresolved_dependencies(ctx, ticket, lifecycle)
        if blockers:
            ids = ", ".join(t.display_id for t in blockers)
            raise InvalidInput(f"{ticket.display_id} has unresolved dependencies ({ids}); resolve them first")
    ticket.status = new
    apply_dates(ctx, ticket, lifecycle, old, new)
    return record(ctx, ticket, "Status", field="Status", old=old, new=new)


def mapped_status(session: Session, ticket: Ticket, target: Queue) -> str:
    """The status a ticket takes when moved to `target`; refused without a complete map."""
    source = lifecycle_of(session, ticket.queue)
    dest = lifecycle_of(session, target)
    if source.name == dest.name:
        return ticket.status
    mapped = source.map_status(ticket.status, dest.name)
    if mapped is None:
        raise InvalidInput(
            f"cannot move {ticket.display_id} from queue {ticket.queue.name} (lifecycle {source.name!r}) to "
            f"{target.name} (lifecycle {dest.name!r}): no map from {source.name!r} to {dest.name!r} "
            f"for status {ticket.status!r}"
        )
    return mapped


def change_queue_lifecycle(ctx: Context, queue: Queue, name: str) -> None:
    """Refuse when tickets in the queue have statuses the new lifecycle does not know."""
    lifecycle = lifecycle_by_name(ctx.session, name)
    stray = ctx.session.execute(
        select(Ticket.status, func.count()).where(Ticket.queue_id == queue.id).group_by(Ticket.status)
    ).all()
    unknown = [(s, n) for s, n in stray if not lifecycle.is_valid(s)]
    if unknown:
        detail = ", ".join(f"{n} {s}" for s, n in unknown)
        raise InvalidInput(
            f"queue {queue.name} has tickets in statuses that lifecycle {lifecycle.name!r} "
            f"does not have ({detail})"
        )
    queue.lifecycle = lifecycle.name

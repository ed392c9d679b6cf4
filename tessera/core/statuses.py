"""The lifecycle hook of core: every status a ticket gets passes through here.

The desk's lifecycles come from `lifecycles.desk`. A status change is checked against the
ticket's queue's lifecycle (a valid status, an allowed transition, the transition's right) and then
applied with RT's date rules: Started is set once, when a ticket first leaves an initial status;
Resolved each time it enters an inactive one. Every refusal names the lifecycle, the from and to
statuses and why, and changes nothing (the caller's `@operation` rolls back).

The read-only helpers at the end (`status_sets`, `next_steps`, `status_category`) are what search
(`__Active__`/`__Inactive__`) and the TUI's menus use, so they agree with the enforcement here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, lazyload, selectinload

from tessera.core.context import Context, record
from tessera.core.lifecycles.desk import lifecycle_by_name, lifecycle_of
from tessera.core.lifecycles.errors import TransitionForbidden, TransitionRefused
from tessera.core.lifecycles.model import Action, Lifecycle
from tessera.core.lifecycles.rules import Category
from tessera.core.models import Link, Queue, Ticket, Transaction

# RT lets only code force a status past unresolved dependencies; Tessera lets people with this right.
FORCE_RIGHT = "ForceStatus"


def creation_status(ctx: Context, queue: Queue, requested: str | None) -> str:
    """The status a new ticket gets: the lifecycle's on_create unless asked, and always allowed from ''.

    Creation asks no transition right: the caller checks CreateTicket on the queue, as RT does."""
    lifecycle = lifecycle_of(ctx.session, queue)
    wanted = (requested or "").strip()
    status = wanted.lower() if wanted else lifecycle.on_create
    try:
        lifecycle.check_transition(None, status)
    except TransitionRefused as exc:
        raise TransitionRefused(f"cannot create a ticket in queue {queue.name}: {exc.message}") from None
    return status


def apply_dates(ctx: Context, ticket: Ticket, lifecycle: Lifecycle, old: str | None, new: str) -> None:
    """RT: Started once, on first leaving an initial status; Resolved on entering inactive, kept on reopen.

    Started stays unset only while a ticket has never been outside an initial status, so "unset and
    now non-initial" is that rule; it also holds for a queue move, where `old` belongs to another
    lifecycle than `lifecycle`."""
    if ticket.started is None and lifecycle.category(new) != "initial":
        ticket.started = ctx.now
    if lifecycle.category(new) == "inactive":
        ticket.resolved = ctx.now


def unresolved_dependencies(ctx: Context, ticket: Ticket, lifecycle: Lifecycle) -> list[Ticket]:
    """Tickets this one depends on that are not inactive in their own queue's lifecycle (RT's gate).

    Their rows are share-locked (in id order) and read as they are once locked: a dependency being
    reopened meanwhile is waited for and seen open, so this ticket cannot close over it."""
    targets = ctx.session.scalars(
        select(Ticket)
        .join(Link, Link.target_id == Ticket.id)
        .where(Link.base_id == ticket.id, Link.type == "DependsOn")
        .order_by(Ticket.id)
        # Queue and owner read after the lock, not joined into it: a row waited for is re-checked
        # against the joined rows from before the wait (a dependency just moved would drop out).
        .options(selectinload(Ticket.queue), lazyload(Ticket.owner))
        .with_for_update(read=True, of=Ticket)
        .execution_options(populate_existing=True)
    ).all()
    return [t for t in targets if lifecycle_of(ctx.session, t.queue).category(t.status) != "inactive"]


def check_status_change(ctx: Context, ticket: Ticket, lifecycle: Lifecycle, new: str) -> None:
    """Refuse a change the lifecycle does not allow or the actor has no right for, saying which
    lifecycle, from, to and why; `new` is lower-case."""
    old = ticket.status
    try:
        lifecycle.check_transition(old, new)
    except TransitionRefused as exc:
        raise TransitionRefused(f"{ticket.display_id}: {exc.message}") from None
    right = lifecycle.right_for(old, new)
    if not ctx.can(right, ticket.queue_id, ticket):
        raise TransitionForbidden(
            f"{ctx.actor.name} may not change {ticket.display_id} from {lifecycle.display(old)} to "
            f"{lifecycle.display(new)}: lifecycle '{lifecycle.name}' requires the {right} right "
            f"for {old} -> {new}"
        )


def change_status(
    ctx: Context, ticket: Ticket, requested: str, *, force: bool = False, depends: bool = True
) -> Transaction | None:
    """Check the lifecycle and the actor's right, then change; None when the status is unchanged.

    `force` skips only the unresolved-dependency gate (RT's `Force`), never the lifecycle, and only
    for an actor holding FORCE_RIGHT on the ticket (the desk's own scrips hold every right); the
    Status transaction names the tickets it was forced past (`data.forced_past`).
    `depends=False`: the caller read, with the ticket's row lock, that it depends on no ticket."""
    lifecycle = lifecycle_of(ctx.session, ticket.queue)
    new = requested.strip().lower()
    old = ticket.status
    if new == old and lifecycle.is_valid(new):
        return None
    check_status_change(ctx, ticket, lifecycle, new)
    forced: list[str] = []
    if depends and lifecycle.category(old) != "inactive" and lifecycle.category(new) == "inactive":
        blockers = unresolved_dependencies(ctx, ticket, lifecycle)
        if blockers:
            ids = ", ".join(t.display_id for t in blockers)
            if not force:
                raise TransitionRefused(
                    f"{ticket.display_id}: lifecycle '{lifecycle.name}' does not allow {old} -> {new} yet: "
                    f"it depends on unresolved {ids}; resolve them first (or force it, with the "
                    f"{FORCE_RIGHT} right)"
                )
            if not ctx.can(FORCE_RIGHT, ticket.queue_id, ticket):
                raise TransitionForbidden(
                    f"{ctx.actor.name} may not force {ticket.display_id} to {lifecycle.display(new)} past "
                    f"its unresolved dependencies ({ids}): that needs the {FORCE_RIGHT} right"
                )
            forced = [t.display_id for t in blockers]
    ticket.status = new
    apply_dates(ctx, ticket, lifecycle, old, new)
    data = {"forced_past": forced} if forced else None
    return record(ctx, ticket, "Status", field="Status", old=old, new=new, data=data)


def mapped_status(session: Session, ticket: Ticket, target: Queue) -> str:
    """The status a ticket takes when moved to `target`: through RT's one-way map between the two
    lifecycles, checked against the target; refused (nothing changes) without a usable map."""
    source = lifecycle_of(session, ticket.queue)
    dest = lifecycle_of(session, target)
    try:
        return source.require_mapped_status(ticket.status, dest)
    except TransitionRefused as exc:
        raise TransitionRefused(
            f"cannot move {ticket.display_id} from queue {ticket.queue.name} to {target.name}: {exc.message}"
        ) from None


def change_queue_lifecycle(ctx: Context, queue: Queue, name: str) -> None:
    """Refuse when tickets in the queue have statuses the new lifecycle does not know."""
    lifecycle = lifecycle_by_name(ctx.session, name)
    stray = ctx.session.execute(
        select(Ticket.status, func.count())
        .where(Ticket.queue_id == queue.id)
        .group_by(Ticket.status)
        .order_by(Ticket.status)
    ).all()
    unknown = [(s, n) for s, n in stray if not lifecycle.is_valid(s)]
    if unknown:
        detail = ", ".join(f"{n} {s}" for s, n in unknown)
        raise TransitionRefused(
            f"cannot give queue {queue.name} lifecycle '{lifecycle.name}': it has tickets in statuses "
            f"'{lifecycle.name}' does not have ({detail}); change their status or move them first"
        )
    queue.lifecycle = lifecycle.name


# -- read-only helpers for search, menus and the TUI -------------------------------------------


@dataclass(frozen=True)
class StatusSets:
    """A queue's statuses by search meaning: `active` is RT's `__Active__` (initial ∪ active)."""

    lifecycle: str
    active: frozenset[str]
    inactive: frozenset[str]


def status_sets(session: Session, queue: Queue) -> StatusSets:
    """What `__Active__` and `__Inactive__` expand to in `queue` (lower-case statuses)."""
    lifecycle = lifecycle_of(session, queue)
    return StatusSets(lifecycle.name, lifecycle.active_set(), lifecycle.inactive_set())


def status_category(session: Session, queue: Queue, status: str) -> Category | None:
    """initial, active or inactive in `queue`'s lifecycle; None when it is no status there."""
    return lifecycle_of(session, queue).category(status)


@dataclass(frozen=True)
class NextSteps:
    """What an actor may do with a ticket's status now: statuses in menu order, and named actions."""

    lifecycle: str
    current: str
    statuses: list[str]
    actions: list[Action]


def next_steps(ctx: Context, ticket: Ticket) -> NextSteps:
    """The allowed next statuses and actions for `ticket` and the acting user (rights included), so a
    menu offers exactly what `change_status` would accept."""
    lifecycle = lifecycle_of(ctx.session, ticket.queue)

    def can(right: str) -> bool:
        return ctx.can(right, ticket.queue_id, ticket)

    return NextSteps(
        lifecycle=lifecycle.name,
        current=ticket.status,
        statuses=lifecycle.next_statuses(ticket.status, can=can),
        actions=lifecycle.actions_for(ticket.status, can=can),
    )

"""One ticket read by its reference (`42`, `TKT-0042`, `#42`): plainly, or locked for a change.

Every operation that changes a ticket starts here (`for_change`), whichever module it lives in
(tickets, ownership, watchers, links), so they all lock, follow merges and refuse a stale version
the same way; a ticket the actor may not see reads as missing.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm.attributes import set_committed_value

from tessera.core.context import Context
from tessera.core.errors import Conflict, InvalidInput, NotFound
from tessera.core.fast_sql import (
    WAIT_FOR_TICKET_LOCK,
    driver_execute,
    loaded_columns,
    lock_ticket_sql,
    persistent,
)
from tessera.core.ids import TICKET_REF
from tessera.core.lifecycles.desk import remember_stored
from tessera.core.models import LifecycleRecord, Queue, Ticket, User, display_id
from tessera.core.schemas import INT_MAX

_REF = TICKET_REF


def parse_ref(ref: str | int) -> int:
    """`42`, `TKT-0042`, `tkt-42`, `#42` -> 42."""
    if isinstance(ref, int):
        return ref
    match = _REF.match(ref)
    if not match:
        raise InvalidInput(f"not a ticket id: {ref!r} (use 42 or TKT-0042)")
    digits = match.group(1)
    if len(digits) > 10 or int(digits) > INT_MAX:  # past any id the database can hold
        shown = digits if len(digits) <= 20 else digits[:20] + "..."
        raise NotFound(f"no ticket TKT-{shown}")
    return int(digits)


_READ = select(Ticket).where(Ticket.id == bindparam("ticket_id"))


_LIFECYCLE_KEYS = tuple(key for key, _ in loaded_columns(LifecycleRecord))


def _lock_one(ctx: Context, ticket_id: int) -> tuple[Ticket | None, bool]:
    """The ticket's row locked, and everything read with it as it is once the lock is held.

    Read on the driver cursor: the ORM's load of the same row costs four times the Python."""
    session = ctx.session
    if session.autoflush and (session.dirty or session.new or session.deleted):
        session.flush()  # as the ORM's own read would: the row read over them must include them
    params = {"ticket_id": ticket_id}
    row = driver_execute(session, lock_ticket_sql(), params).fetchone()
    if row is None:
        # Locked by another unit of work (or no such ticket): wait for the lock, then read in a
        # new statement, whose snapshot holds everything the other unit committed.
        if driver_execute(session, WAIT_FOR_TICKET_LOCK, params).fetchone() is None:
            return None, True
        row = driver_execute(session, lock_ticket_sql(), params).fetchone()
        if row is None:  # not while we hold the lock: stated rather than assumed
            return None, True
    n_ticket, n_queue = len(loaded_columns(Ticket)), len(loaded_columns(Queue))
    n_user, n_lifecycle = len(loaded_columns(User)), len(loaded_columns(LifecycleRecord))
    queue = persistent(session, Queue, row[n_ticket : n_ticket + n_queue])
    owner_row = row[n_ticket + n_queue : n_ticket + n_queue + n_user]
    owner = persistent(session, User, owner_row) if owner_row[0] is not None else None
    at = n_ticket + n_queue + n_user
    stored = dict(zip(_LIFECYCLE_KEYS, row[at : at + n_lifecycle], strict=True))
    if stored["name"] is not None:  # `lifecycle_of` then reads no row
        remember_stored(session, stored["name"], stored["definition"], stored["updated"])
    ticket = persistent(session, Ticket, row[:n_ticket])
    set_committed_value(ticket, "queue", queue)
    set_committed_value(ticket, "owner", owner)
    return ticket, bool(row[-1])


def _load(ctx: Context, ref: str | int, *, for_update: bool, check: bool) -> tuple[Ticket, bool]:
    """The ticket (following merges) and, when locked, whether it depends on other tickets."""
    ticket_id = parse_ref(ref)
    seen: set[int] = set()
    depends = True
    while True:
        if for_update:
            ticket, depends = _lock_one(ctx, ticket_id)
        else:
            ticket = ctx.session.scalars(_READ, {"ticket_id": ticket_id}).first()
        if ticket is None:
            raise NotFound(f"no ticket {display_id(ticket_id)}")
        if ticket.merged_into_id is None or ticket.merged_into_id in seen:
            break
        seen.add(ticket.id)
        ticket_id = ticket.merged_into_id
    if check and not ctx.can("ShowTicket", ticket.queue_id, ticket):
        # Same words as a missing ticket: a stranger learns nothing from guessing ids.
        raise NotFound(f"no ticket {display_id(parse_ref(ref))}")
    return ticket, bool(depends)


def get_ticket(ctx: Context, ref: str | int, *, for_update: bool = False, check: bool = True) -> Ticket:
    """Load a ticket; a merged id resolves to the ticket it was merged into (as RT does)."""
    return _load(ctx, ref, for_update=for_update, check=check)[0]


def for_change(ctx: Context, ref: str | int, expected_version: int | None) -> Ticket:
    """The ticket locked for a change; refused if someone changed it since `expected_version`."""
    return locked_for_change(ctx, ref, expected_version)[0]


def locked_for_change(ctx: Context, ref: str | int, expected_version: int | None) -> tuple[Ticket, bool]:
    """The ticket locked for a change, and whether it depends on other tickets (read with the lock)."""
    ticket, depends = _load(ctx, ref, for_update=True, check=True)
    if expected_version is not None and ticket.version != expected_version:
        raise Conflict(
            f"{ticket.display_id} changed since you loaded it (version {expected_version}, "
            f"now {ticket.version}); reload it and try again"
        )
    return ticket, depends


def lock_tickets(ctx: Context, *refs: str | int) -> list[Ticket]:
    """The tickets `refs` name (merges followed, ShowTicket checked), their rows locked in one
    global order, by id: two units that each touch the same two tickets (a link one way and one
    the other, a merge) then wait for each other instead of deadlocking. A ref merged away is
    followed after its own lock, the one step that can leave the order; a deadlock there is run
    again by `operation`."""
    ids = [parse_ref(ref) for ref in refs]
    locked = {ticket_id: get_ticket(ctx, ticket_id, for_update=True) for ticket_id in sorted(set(ids))}
    return [locked[ticket_id] for ticket_id in ids]

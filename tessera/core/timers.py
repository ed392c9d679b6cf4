"""Timers in core: the firing of a timer (a scrip with a time condition) on a ticket, as one unit of
work, and the record that makes it fire at most once per ticket per deadline.

Which tickets a timer is due on is the scrip layer's business (`tessera.scrips.timers`, which reads
the conditions); the change is core's, as every change to a ticket is. `fire` locks the ticket
(SKIP LOCKED: a ticket another unit holds is left for the next sweep), asks the caller's `evaluate`
again under the lock what is due now, and for each deadline inserts a `timer_firings` row (unique
per timer, ticket, item and deadline: ON CONFLICT DO NOTHING, so a second worker that gets there
after the first inserts nothing and fires nothing) and records a `Timer` transaction on the ticket.
The unit then runs the scrips as every unit does: the timer's own scrip is true on that transaction
(its condition names it), so its action, its trace, its mail and the scrips of what it changes all
go in the same database transaction as the record of the firing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tessera.core.bootstrap import system_user
from tessera.core.context import Context, desk_context, operation, record
from tessera.core.errors import NotFound
from tessera.core.models import Ticket, TimerFiring, Transaction, User
from tessera.core.ticket_read import get_ticket

TIMER = "Timer"  # the transaction type of a firing
TIMER_USER = "timers"  # its actor (RT would say RT_System); not privileged: a firing is no agent's touch


@dataclass(frozen=True)
class Due:
    """One deadline a timer is due on: the moment it counts from or to, the item (a reminder's
    id, 0 for the ticket), what the history says about it, and what else the transaction keeps."""

    deadline: datetime
    reason: str
    item: int = 0
    data: dict[str, Any] = field(default_factory=dict)


Evaluate = Callable[[Context, Ticket], list[Due]]


def timer_user(session: Session) -> User:
    """The desk's timers actor (made on first use, see `bootstrap.system_user`)."""
    return system_user(session, TIMER_USER, "Timers (tessera worker)")


def timer_context(session: Session) -> Context:
    """A context acting as the desk's timers (rights bypassed; lifecycles still checked)."""
    return desk_context(session, timer_user(session))


def record_firing(
    ctx: Context,
    ticket: Ticket,
    scrip_id: int | None,
    description: str,
    condition: str,
    due: Due,
    *,
    once: bool,
) -> Transaction | None:
    """The `Timer` transaction of one firing, after its `timer_firings` row (`once`; None: it had
    fired already). A dry-run passes once=False: nothing is kept of it anyway."""
    if once:
        assert scrip_id is not None
        fired = ctx.session.execute(
            insert(TimerFiring)
            .values(scrip_id=scrip_id, ticket_id=ticket.id, item=due.item, deadline=due.deadline)
            .on_conflict_do_nothing()
            .returning(TimerFiring.id)
        ).scalar()
        if fired is None:
            return None
    data = {
        "timer": scrip_id,
        "scrip": description,
        "condition": condition,
        "deadline": due.deadline.isoformat(),
        "reason": due.reason,
        **due.data,
    }
    return record(ctx, ticket, TIMER, new=due.reason, data=data)


@operation
def fire(
    ctx: Context, ticket_id: int, scrip_id: int, description: str, condition: str, evaluate: Evaluate
) -> list[Transaction]:
    """Fire one timer on one ticket, as one unit of work: what `evaluate` finds due under the
    ticket's lock and has not fired yet (none: nothing is written). A ticket locked by another unit
    (an agent's change, another worker's firing) is skipped: the next sweep looks again."""
    held = ctx.session.scalars(
        select(Ticket.id).where(Ticket.id == ticket_id).with_for_update(skip_locked=True)
    ).first()
    if held is None:
        return []
    try:
        ticket = get_ticket(ctx, ticket_id, for_update=True, check=False)
    except NotFound:
        return []
    if ticket.id != ticket_id:  # merged away since the sweep looked
        return []
    made = []
    for due in evaluate(ctx, ticket):
        txn = record_firing(ctx, ticket, scrip_id, description, condition, due, once=True)
        if txn is not None:
            made.append(txn)
    return made


__all__ = ["TIMER", "TIMER_USER", "Due", "Evaluate", "fire", "record_firing", "timer_context", "timer_user"]

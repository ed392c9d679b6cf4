"""Timers: scrips on the clock (RT's rt-crontool, built in).

A timer is an ordinary scrip whose condition is a time condition (`OnOverdue`, `DueWithin 1h`,
`Untouched 8h business`, `InStatus resolved for 7d`, `ReminderDue`), with any action a scrip has.
`sweep` finds, for each enabled timer, the tickets whose clock ran out (indexed queries on the
deadlines: Due, the reminders' due dates; what already fired is left out by the `timer_firings`
record) and has core fire it on each (`tessera.core.timers.fire`): one unit of work per ticket that
re-checks the condition under the ticket's lock, records the firing once and a `Timer` transaction,
and runs the scrips on it (the timer's action, then whatever its changes trigger). `preview` does
the same inside a rolled-back unit at any moment and reports the scrip dry-run's plan, changing
nothing. `tessera worker` sweeps continuously, `tessera worker --timers-once` once.

What each condition counts from (its "deadline": a timer fires once per ticket per deadline):
* OnOverdue: Due has passed (a not-inactive ticket); once per Due value.
* DueWithin N: Due is at most N away (real time); once per Due value.
* Untouched N: no transaction by an agent (a privileged user) since the later of the ticket's
  creation and the last one, for N (business hours on the ticket's level's calendar when written
  `8h business`; a ticket without a level counts every hour); once per quiet spell.
* InStatus S for N: the ticket entered status S (or a status of category S) N ago and is still in
  it; once per entry into the status.
* ReminderDue: an open reminder's due date passed; once per reminder and due date.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from tessera.core import clock
from tessera.core.business_hours import ALWAYS_OPEN, Calendar, CalendarInvalid, between
from tessera.core.calendar_store import calendar_by_name
from tessera.core.context import Context
from tessera.core.db import Database
from tessera.core.errors import InvalidInput, TesseraError
from tessera.core.ids import display_id
from tessera.core.json_time import json_time
from tessera.core.lifecycles.desk import lifecycle_by_name, lifecycle_names, lifecycle_of
from tessera.core.models import Reminder, Scrip, Ticket, TimerFiring, Transaction, User
from tessera.core.sla import level_of
from tessera.core.timers import TIMER, Due, Evaluate, fire, record_firing, timer_context
from tessera.scrips import conditions
from tessera.scrips.conditions import TIME_CONDITIONS, TimeSpec, parse_time_argument

log = logging.getLogger(__name__)

BATCH = 500  # tickets a timer fires on per query; a sweep queries again until none is left
STATUS_CHANGE = or_(
    Transaction.type == "Status", and_(Transaction.type == "Set", Transaction.field == "Status")
)


@dataclass(frozen=True)
class Timer:
    """A scrip that is a timer, its argument read."""

    id: int | None
    description: str
    queue_id: int | None
    condition: str
    argument: str
    spec: TimeSpec

    @property
    def label(self) -> str:
        arg = f" {self.argument}" if self.argument.strip() else ""
        return f"{self.condition}{arg}"


def as_timer(scrip: Any) -> Timer:
    """A scrip (saved or a draft with the same attributes) as a timer; InvalidInput if its
    condition is no time condition or its argument does not read."""
    name = conditions.canonical_name(scrip.condition or "")
    if name not in TIME_CONDITIONS:
        raise InvalidInput(f"{name} is not a time condition ({', '.join(TIME_CONDITIONS)})")
    spec = parse_time_argument(name, scrip.condition_argument or "")
    return Timer(scrip.id, scrip.description, scrip.queue_id, name, scrip.condition_argument or "", spec)


def timers(session: Session, *, enabled_only: bool = True) -> tuple[list[Timer], list[dict[str, Any]]]:
    """The desk's timers in the scrips' order, and those whose argument does not read (each with
    the one-line reason: they are skipped)."""
    columns = (Scrip.id, Scrip.description, Scrip.queue_id, Scrip.condition, Scrip.condition_argument)
    query = select(*columns).where(Scrip.condition.in_(TIME_CONDITIONS)).order_by(Scrip.sort_order, Scrip.id)
    if enabled_only:
        query = query.where(Scrip.enabled.is_(True))
    found, broken = [], []
    for scrip in session.execute(query):  # plain rows: no objects to build for a sweep
        try:
            found.append(as_timer(scrip))
        except InvalidInput as exc:
            broken.append({"timer": scrip.id, "description": scrip.description, "error": exc.message})
    return found, broken


def shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- which tickets (indexed candidates; each re-checked under its lock) ----------------------------


_INACTIVE_TTL_S = 60.0
_inactive: tuple[float, list[str]] | None = None


def _always_inactive(session: Session) -> list[str]:
    """Statuses inactive in every lifecycle of the desk (a ticket in one is never due): the sweep's
    candidates leave them out. Read again after a minute: a lifecycle changed meanwhile only delays
    (never wrongly causes) a firing, as every candidate is checked against its own lifecycle."""
    import time

    global _inactive
    if _inactive is not None and time.monotonic() - _inactive[0] < _INACTIVE_TTL_S:
        return _inactive[1]
    sets = [lifecycle_by_name(session, name).inactive_set() for name in lifecycle_names(session)]
    found = sorted(frozenset.intersection(*sets)) if sets else []
    _inactive = (time.monotonic(), found)
    return found


def _statuses(session: Session, words: tuple[str, ...]) -> list[str]:
    """Status names and category words (initial, active, inactive) as the statuses they name."""
    out = {w for w in words}
    for name in lifecycle_names(session):
        lifecycle = lifecycle_by_name(session, name)
        out.update(s for s in lifecycle.statuses if lifecycle.category(s) in words)
    return sorted(out)


def _fired(timer_id: int | None, deadline: Any, item: Any = 0) -> Any:
    return exists().where(
        TimerFiring.scrip_id == timer_id,
        TimerFiring.ticket_id == Ticket.id,
        TimerFiring.item == item,
        TimerFiring.deadline == deadline,
    )


def _last_agent_change() -> Any:
    return (
        select(func.max(Transaction.created))
        .join(User, User.id == Transaction.actor_id)
        .where(Transaction.ticket_id == Ticket.id, User.privileged.is_(True))
        .scalar_subquery()
    )


def _last_status_change() -> Any:
    return (
        select(func.max(Transaction.created))
        .where(Transaction.ticket_id == Ticket.id, STATUS_CHANGE)
        .scalar_subquery()
    )


def candidates_query(
    session: Session, timer: Timer, now: datetime, limit: int = BATCH, after: int = 0
) -> Select[Any]:
    """The ids of tickets `timer` may be due on at `now` and has not fired on for that deadline,
    by id from `after` on (a page: the sweep asks for the next until one comes back short)."""
    spec = timer.spec
    query: Select[Any] = select(Ticket.id).where(Ticket.merged_into_id.is_(None), Ticket.id > after)
    if timer.queue_id is not None:
        query = query.where(Ticket.queue_id == timer.queue_id)
    if spec.condition != "InStatus":
        inactive = _always_inactive(session)
        if inactive:
            query = query.where(Ticket.status.not_in(inactive))
    if spec.condition == "OnOverdue":
        query = query.where(Ticket.due.is_not(None), Ticket.due <= now, ~_fired(timer.id, Ticket.due))
        return query.order_by(Ticket.id).limit(limit)
    if spec.condition == "DueWithin":
        query = query.where(
            Ticket.due.is_not(None),
            Ticket.due > now,
            Ticket.due <= now + spec.amount,
            ~_fired(timer.id, Ticket.due),
        )
        return query.order_by(Ticket.id).limit(limit)
    if spec.condition == "Untouched":
        # Business time passes no faster than real time: N business hours untouched means at
        # least N real hours untouched, which the query finds; the lock re-check counts business.
        since = func.coalesce(_last_agent_change(), Ticket.created)
        query = query.where(
            Ticket.created <= now - spec.amount, since <= now - spec.amount, ~_fired(timer.id, since)
        )
        return query.order_by(Ticket.id).limit(limit)
    if spec.condition == "InStatus":
        since = func.coalesce(_last_status_change(), Ticket.created)
        query = query.where(
            Ticket.status.in_(_statuses(session, spec.statuses)),
            since <= now - spec.amount,
            ~_fired(timer.id, since),
        )
        return query.order_by(Ticket.id).limit(limit)
    if spec.condition == "ReminderDue":
        due = exists().where(
            Reminder.ticket_id == Ticket.id,
            Reminder.due.is_not(None),
            Reminder.resolved.is_(None),
            Reminder.due <= now,
            ~_fired(timer.id, Reminder.due, Reminder.id),
        )
        return query.where(due).order_by(Ticket.id).limit(limit)
    raise InvalidInput(f"{spec.condition} is not a time condition")


def candidates(
    session: Session, timer: Timer, now: datetime, limit: int = BATCH, after: int = 0
) -> list[int]:
    return list(session.scalars(candidates_query(session, timer, now, limit, after)))


# -- is it due (under the ticket's lock, at the unit's moment) -------------------------------------


def calendar_for(ctx: Context, ticket: Ticket) -> Calendar:
    """The ticket's level's calendar (always open without a level, or a level without one)."""
    level = level_of(ctx, ticket)
    if level is None or level.calendar is None:
        return ALWAYS_OPEN
    try:
        return calendar_by_name(ctx.session, level.calendar)
    except CalendarInvalid:
        return ALWAYS_OPEN


def fired_already(session: Session, timer_id: int | None, ticket_id: int, due: Due) -> bool:
    """Whether `timer_id` already fired on the ticket for that deadline."""
    return (
        session.scalar(
            select(TimerFiring.id).where(
                TimerFiring.scrip_id == timer_id,
                TimerFiring.ticket_id == ticket_id,
                TimerFiring.item == due.item,
                TimerFiring.deadline == due.deadline,
            )
        )
        is not None
    )


def _elapsed(ctx: Context, ticket: Ticket, spec: TimeSpec, since: datetime) -> bool:
    if spec.business:
        return between(calendar_for(ctx, ticket), since, ctx.now) >= spec.amount
    return ctx.now - since >= spec.amount


def evaluator(timer: Timer) -> Evaluate:
    """What `timer` is due on for a ticket, at the unit's moment (`ctx.now`)."""
    spec = timer.spec

    def evaluate(ctx: Context, ticket: Ticket) -> list[Due]:
        if timer.queue_id is not None and ticket.queue_id != timer.queue_id:
            return []
        now = ctx.now
        lifecycle = lifecycle_of(ctx.session, ticket.queue)
        if spec.condition != "InStatus" and lifecycle.is_inactive(ticket.status):
            return []
        session = ctx.session
        if spec.condition == "OnOverdue":
            if ticket.due is None or ticket.due > now:
                return []
            return [Due(ticket.due, f"overdue: Due {shown(ticket.due)} passed")]
        if spec.condition == "DueWithin":
            if ticket.due is None or not now < ticket.due <= now + spec.amount:
                return []
            return [Due(ticket.due, f"due within {spec.text()}: Due {shown(ticket.due)}")]
        if spec.condition == "Untouched":
            last = session.scalar(
                select(func.max(Transaction.created))
                .join(User, User.id == Transaction.actor_id)
                .where(Transaction.ticket_id == ticket.id, User.privileged.is_(True))
            )
            since = last or ticket.created
            if not _elapsed(ctx, ticket, spec, since):
                return []
            return [Due(since, f"untouched for {spec.text()}: no agent's change since {shown(since)}")]
        if spec.condition == "InStatus":
            category = lifecycle.category(ticket.status)
            if ticket.status not in spec.statuses and category not in spec.statuses:
                return []
            last = session.scalar(
                select(func.max(Transaction.created)).where(Transaction.ticket_id == ticket.id, STATUS_CHANGE)
            )
            since = last or ticket.created
            if not _elapsed(ctx, ticket, spec, since):
                return []
            return [Due(since, f"{ticket.status} for {spec.text()}: since {shown(since)}")]
        if spec.condition == "ReminderDue":
            found = []
            for reminder in session.scalars(
                select(Reminder)
                .where(
                    Reminder.ticket_id == ticket.id,
                    Reminder.due.is_not(None),
                    Reminder.resolved.is_(None),
                    Reminder.due <= now,
                )
                .order_by(Reminder.due, Reminder.id)
            ):
                assert reminder.due is not None
                about = {
                    "id": reminder.id,
                    "subject": reminder.subject,
                    "due": json_time(reminder.due),
                    "owner": reminder.owner.name if reminder.owner is not None else None,
                }
                why = f"reminder #{reminder.id} due {shown(reminder.due)}: {reminder.subject}"
                found.append(Due(reminder.due, why, reminder.id, {"reminder": about}))
            return found
        return []

    return evaluate


# -- the sweep -------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    at: datetime
    fired: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"at": json_time(self.at), "fired": self.fired, "errors": self.errors}


def sweep_session(session: Session, *, limit: int = BATCH) -> SweepResult:
    """One sweep on `session`: every enabled timer fired on every ticket it is due on now (each
    firing its own unit of work, committed). With nothing due it costs a statement for the timers
    and one per timer (the candidates' indexed query)."""
    result = SweepResult(clock.now())
    found, broken = timers(session)
    result.errors.extend(broken)
    ctx: Context | None = None
    for timer in found:
        evaluate = evaluator(timer)
        after = 0
        while True:
            ids = candidates(session, timer, clock.now(), limit, after)
            session.rollback()  # the read's snapshot ends: each firing reads afresh under its lock
            if not ids:
                break
            if ctx is None:
                ctx = timer_context(session)  # (the timers user is made and committed on first use)
                session.rollback()
            for ticket_id in ids:
                try:
                    made = fire(ctx, ticket_id, timer.id or 0, timer.description, timer.condition, evaluate)
                except TesseraError as exc:
                    result.errors.append(
                        {"timer": timer.id, "description": timer.description,
                         "ticket": display_id(ticket_id), "error": exc.message}
                    )  # fmt: skip
                    continue
                for txn in made:
                    result.fired.append(
                        {
                            "timer": timer.id,
                            "description": timer.description,
                            "ticket": display_id(ticket_id),
                            "transaction": txn.id,
                            "reason": txn.new_value,
                        }
                    )
            if len(ids) < limit:
                break
            after = ids[-1]
    session.rollback()
    return result


def sweep(db: Database, *, limit: int = BATCH) -> SweepResult:
    """One sweep in a session of its own (`tessera worker --timers-once`, and each round of
    `tessera worker`)."""
    with db.session() as session:
        return sweep_session(session, limit=limit)


def run_timers(
    db: Database,
    *,
    every: float = 30.0,
    should_stop: Callable[[], bool] = lambda: False,
    wait: Callable[[float], object] | None = None,
    report: Callable[[SweepResult], None] | None = None,
) -> None:
    """Sweep forever, `every` seconds apart (`tessera worker`): a sweep that fails (the database
    away) is logged and the next one tries again."""
    import time

    pause = wait or time.sleep
    while not should_stop():
        try:
            result = sweep(db)
            if report is not None and (result.fired or result.errors):
                report(result)
        except Exception as exc:
            from tessera.core.db import first_line

            log.warning("timers: %s; sweeping again in %g s", first_line(exc), every)
        pause(every)


# -- the dry-run -----------------------------------------------------------------------------------


def preview_timer(
    ctx: Context, timer: Timer, at: datetime, *, ticket_ids: list[int] | None = None, limit: int = 50
) -> dict[str, Any]:
    """What `timer` would do at `at`: the tickets it would fire on (all it is due on, or those of
    `ticket_ids`) and, for the first `limit`, the scrip dry-run's plan of the firing; nothing is
    kept (each inside a rolled-back unit of work at that moment)."""
    from tessera.scrips.preview import _dry_run

    session = ctx.session
    if ticket_ids is None:
        ids = candidates(session, timer, at, limit + 1)
        more = len(ids) > limit
        ids = ids[:limit]
    else:
        ids, more = ticket_ids, False
    session.rollback()
    evaluate = evaluator(timer)
    plans: list[dict[str, Any]] = []
    for ticket_id in ids:
        due_found: list[Due] = []

        def make(ticket_id: int = ticket_id, due_found: list[Due] = due_found) -> str:
            from tessera.core.ticket_read import get_ticket

            ctx.now = at
            ticket = get_ticket(ctx, ticket_id, check=False)
            for due in evaluate(ctx, ticket):
                if timer.id is None or not fired_already(session, timer.id, ticket.id, due):
                    due_found.append(due)
                    record_firing(ctx, ticket, timer.id, timer.description, timer.condition, due, once=False)
            return ticket.display_id

        plan = _dry_run(ctx, make)
        if not due_found:
            continue
        plan["deadlines"] = [{"deadline": json_time(d.deadline), "reason": d.reason} for d in due_found]
        # The timer's own scrip first: the rest are what its transaction and changes trigger.
        plans.append(plan)
    return {
        "timer": timer.id,
        "description": timer.description,
        "condition": timer.label,
        "at": json_time(at),
        "tickets": plans,
        "more": more,
    }


def preview(
    ctx: Context, at: datetime | None = None, *, scrip_id: int | None = None, limit: int = 50
) -> dict[str, Any]:
    """`tessera timers preview`: every enabled timer (or the scrip `scrip_id`, enabled or not) at
    `at` (default: now), what each would fire on and do; nothing changes."""
    ctx.require(("ShowScrips", "ModifyScrips"), "preview", "timers")
    moment = at or clock.now()
    session = ctx.session
    if scrip_id is not None:
        scrip = session.get(Scrip, scrip_id)
        if scrip is None:
            raise InvalidInput(f"no scrip {scrip_id}")
        found, broken = [as_timer(scrip)], list[dict[str, Any]]()
    else:
        found, broken = timers(session)
    session.rollback()
    return {
        "at": json_time(moment),
        "timers": [preview_timer(ctx, timer, moment, limit=limit) for timer in found],
        "errors": broken,
    }


def parse_moment(raw: str, now: datetime | None = None, *, label: str = "--at") -> datetime:
    """`--at`: an ISO moment (`2026-12-24 09:00`, `2026-12-24T09:00+01:00`; no offset: UTC), or
    TicketSQL's relative dates (`2 hours from now`, `tomorrow`: its start); one line otherwise."""
    from tessera.core.search.dates import date_range

    text = raw.strip()
    found = date_range(text, now) if text else None
    if found is None:
        shown_text = repr(text) if text else "nothing"
        raise InvalidInput(
            f"{label}: cannot read {shown_text} as a moment (2026-12-24 09:00, 2026-12-24T09:00+01:00, "
            "'2 hours from now')"
        )
    return found[0]


__all__ = [
    "TIMER",
    "SweepResult",
    "Timer",
    "as_timer",
    "candidates",
    "evaluator",
    "fired_already",
    "parse_moment",
    "preview",
    "preview_timer",
    "run_timers",
    "sweep",
    "sweep_session",
    "timers",
]

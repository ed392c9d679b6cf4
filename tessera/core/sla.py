"""Service levels on tickets: the desk's service-level file (apply, export, list) and the
computation of a ticket's Starts and Due, RT's rules (`lib/RT/Action/SLA_Set*.pm`). As in RT, the
two shipped scrips "[SLA] Set starts date" and "[SLA] Set due date" (`tessera.scrips.change_actions`)
apply them, in the unit of work of the change that triggers them (so for every caller, committed
or rolled back with it); a desk that disables one stops that date being kept.

When (the scrips' conditions):
* Create: the ticket takes its level (given, else its queue's default: core), then Starts and Due.
* Correspond: a requestor's message (re)starts the response clock, from the oldest of their
  unanswered messages; an agent's reply (anyone not a requestor, and always the owner) meets it,
  and starts the keep-in-loop clock if the level has one.
* Status change: a status in the level's `pause_on` stops the clocks (Due unset) and the time spent
  there is added back on leaving it; an inactive status (resolved, rejected...) stops them all.
* SLA change (`ticket set ID SLA=24h`): Starts and Due anew for the new level.
Resolve is counted from Created; Due is the earlier of the response (or keep-in-loop) and the
resolve deadline. The new Due rides on the transaction that caused it (`data.sla_due`), so the
history says which change moved it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import inspect, or_, select

from tessera.core.business_hours import ALWAYS_OPEN, Calendar, CalendarInvalid, between
from tessera.core.calendar_store import calendar_by_name, parse_documents
from tessera.core.context import Context, operation
from tessera.core.errors import InvalidInput
from tessera.core.lifecycles.desk import lifecycle_by_name, lifecycle_names, lifecycle_of
from tessera.core.models import (
    CalendarRecord,
    CustomField,
    Group,
    GroupMember,
    Queue,
    ServiceLevelsRecord,
    Ticket,
    Transaction,
    Watcher,
)
from tessera.core.service_levels import (
    Deadline,
    Level,
    QueueRule,
    SlaConfig,
    SlaInvalid,
    config_from_data,
)

ADMIN_RIGHT = "AdminServiceLevels"
MESSAGE_TYPES = ("Create", "Correspond")
_SESSION_KEY = "tessera.sla"


# `load_config`'s `row` when the caller has not read it (None: read, and there is none).
UNREAD: Any = object()


def load_config(ctx: Context, row: ServiceLevelsRecord | None = UNREAD) -> SlaConfig:
    """The desk's service levels (none applied: no levels, no queue with SLA); `row`: the
    service-level row as the caller read it in this transaction (None: there is none)."""
    if row is UNREAD:
        row = ctx.session.get(ServiceLevelsRecord, 1)
    if row is None:
        return SlaConfig()
    cached = ctx.session.info.get(_SESSION_KEY)
    if cached is not None and cached[0] == row.updated:
        return cached[1]  # type: ignore[no-any-return]
    data = row.definition
    config = SlaConfig(
        levels={name: _stored_level(name, raw) for name, raw in data.get("levels", {}).items()},
        queues={name: _stored_rule(name, raw, data) for name, raw in data.get("queues", {}).items()},
    )
    ctx.session.info[_SESSION_KEY] = (row.updated, config)
    return config


def _stored_rule(name: str, raw: Any, data: dict[str, Any]) -> QueueRule:
    from tessera.core.service_levels import _rule

    by_lower = {n.lower(): n for n in data.get("levels", {})}
    groups = {g.lower(): g for g in (raw.get("requestor_groups") or {})} if isinstance(raw, dict) else {}
    cf = raw.get("custom_field") if isinstance(raw, dict) else None
    fields = {cf["name"].lower(): cf["name"]} if cf else {}
    return _rule(name, raw, by_lower, groups, fields)


def _stored_level(name: str, raw: dict[str, Any]) -> Level:
    from tessera.core.service_levels import _level

    return _level(name, raw, {raw["calendar"]} if raw.get("calendar") else set())


@dataclass(frozen=True)
class Applied:
    config: SlaConfig
    result: Literal["created", "replaced", "unchanged"]


@operation
def apply_service_levels(ctx: Context, text: str) -> Applied:
    """Create or replace the desk's service-level file (AdminServiceLevels), validated against the
    stored calendars and queues; refused whole if a level tickets still have would be dropped."""
    ctx.require(ADMIN_RIGHT, "apply", "service levels on this desk")
    docs = parse_documents(text, expected="a service-level file (levels and queues)")
    if len(docs) != 1:
        raise SlaInvalid("(document): a service-level file is one document (levels and queues)")
    calendars = set(ctx.session.scalars(select(CalendarRecord.name)))
    queues = {q.name.lower(): q.name for q in ctx.session.scalars(select(Queue))}
    groups = {g.name.lower(): g.name for g in ctx.session.scalars(select(Group))}
    fields = {f.name.lower(): f.name for f in ctx.session.scalars(select(CustomField))}
    statuses = {
        status.lower()
        for name in lifecycle_names(ctx.session)
        for status in lifecycle_by_name(ctx.session, name).statuses
    }
    config = config_from_data(docs[0], calendars, queues, groups, fields, statuses)
    names = {n.lower() for n in config.levels}
    for level_name, count in ctx.session.execute(
        select(Ticket.sla, _count()).where(Ticket.sla.is_not(None)).group_by(Ticket.sla)
    ).all():
        if level_name.lower() not in names:
            raise SlaInvalid(
                f"levels: '{level_name}' is dropped but {count} ticket{'s' if count != 1 else ''} "
                f"still have it; give them another level first (search: SLA = '{level_name}')"
            )
    row = ctx.session.get(ServiceLevelsRecord, 1, with_for_update=True)
    definition = config.to_data()
    if row is None:
        ctx.session.add(
            ServiceLevelsRecord(id=1, definition=definition, updated=ctx.now, updated_by_id=ctx.actor.id)
        )
        result: Literal["created", "replaced", "unchanged"] = "created"
    elif row.definition == definition:
        result = "unchanged"
    else:
        row.definition, row.updated, row.updated_by_id = definition, ctx.now, ctx.actor.id
        result = "replaced"
    ctx.session.flush()
    ctx.session.info.pop(_SESSION_KEY, None)
    return Applied(config, result)


def _count() -> Any:
    from sqlalchemy import func

    return func.count()


def _calendar(ctx: Context, level: Level) -> Calendar:
    if level.calendar is None:
        return ALWAYS_OPEN
    try:
        return calendar_by_name(ctx.session, level.calendar)
    except CalendarInvalid:  # (validated when stored)
        return ALWAYS_OPEN


def level_for_new_ticket(
    ctx: Context,
    queue: Queue,
    wanted: str | None,
    requestor_ids: Sequence[int] = (),
    fields: dict[str, list[str]] | None = None,
    *,
    row: ServiceLevelsRecord | None = UNREAD,
) -> Level | None:
    """The level a new ticket takes: the one asked for (which must exist), else its queue's rule:
    a custom field's value, a requestor's group, the queue's default (`QueueRule.level_for`).
    `row`: as `load_config`'s."""
    config = load_config(ctx, row)
    if wanted is not None and wanted.strip():
        return require_level(config, wanted)
    rule = config.queue_rule(queue.name)
    if rule is None:
        return None
    groups: set[str] = set()
    if rule.requestor_groups and requestor_ids:
        groups = {
            name.lower()
            for name in ctx.session.scalars(
                select(Group.name)
                .join(GroupMember, GroupMember.group_id == Group.id)
                .where(GroupMember.user_id.in_(list(requestor_ids)))
            )
        }
    return config.level(rule.level_for(groups, {k.lower(): v for k, v in (fields or {}).items()}))


def require_level(config: SlaConfig, name: str) -> Level:
    level = config.level(name.strip())
    if level is None:
        listed = ", ".join(config.levels) or "none yet: `tessera sla apply FILE` adds them"
        raise InvalidInput(f"SLA: no service level named '{name.strip()}' (levels: {listed})")
    return level


def level_of(ctx: Context, ticket: Ticket) -> Level | None:
    """The ticket's level, when it has one the desk still defines."""
    return load_config(ctx).level(ticket.sla) if ticket.sla is not None else None


def starts_for(ctx: Context, ticket: Ticket) -> datetime | None:
    """Starts by the ticket's level's start rule (None: no level)."""
    level = level_of(ctx, ticket)
    return level.starts_at(_calendar(ctx, level), ticket.created) if level is not None else None


def set_level(ctx: Context, ticket: Ticket, raw: str) -> Transaction | None:
    """`SLA=NAME` (empty clears it: Starts and Due stay as they are, no longer kept)."""
    from tessera.core.context import record

    config = load_config(ctx)
    level = require_level(config, raw) if raw.strip() else None
    new = level.name if level is not None else None
    if new == ticket.sla:
        return None
    old, ticket.sla = ticket.sla, new
    return record(ctx, ticket, "Set", field="SLA", old=old, new=new)


def recompute(ctx: Context, ticket: Ticket, txn: Transaction | None) -> None:
    """Due anew after `txn` (a Create, a Correspond, a status change, an SLA change) on a ticket
    with a level; the new Due is noted on `txn` (`data.sla_due`)."""
    if ticket.sla is None or (level := level_of(ctx, ticket)) is None:
        return
    due = due_for(ctx, ticket, level)
    if due != ticket.due:
        ticket.due = due
        if txn is not None:
            txn.data = {**(txn.data or {}), "sla_due": due.isoformat() if due is not None else None}


def due_for(ctx: Context, ticket: Ticket, level: Level) -> datetime | None:
    """Due by `level` as the ticket stands (None: no clock running)."""
    cal = _calendar(ctx, level)
    with ctx.session.no_autoflush:
        messages = _messages(ctx, ticket)
        requestors = set(
            ctx.session.scalars(
                select(Watcher.user_id).where(Watcher.ticket_id == ticket.id, Watcher.role == "Requestor")
            )
        )
        pauses = _pauses(ctx, ticket, level) if level.pause_on else []
    response_base: datetime | None = None
    inside_reply: datetime | None = None
    for kind, actor_id, created in messages:  # newest first
        outside = kind == "Create" or (actor_id in requestors and actor_id != ticket.owner_id)
        if outside:
            response_base = created  # the oldest of the newest run of unanswered ones
            continue
        if response_base is None:
            inside_reply = created
        break
    return _due(
        ctx, ticket, level, cal, response_base=response_base, inside_reply=inside_reply, pauses=pauses
    )


def _due(
    ctx: Context,
    ticket: Ticket,
    level: Level,
    cal: Calendar,
    *,
    response_base: datetime | None,
    inside_reply: datetime | None,
    pauses: list[tuple[datetime, datetime | None]],
) -> datetime | None:
    lifecycle = lifecycle_of(ctx.session, ticket.queue)
    if lifecycle.category(ticket.status) == "inactive" or ticket.status in level.pause_on:
        return None
    found: list[datetime] = []

    def deadline(spec: Deadline | None, base: datetime | None) -> None:
        if spec is None or base is None:
            return
        due = spec.apply(cal, base)
        stopped = sum(
            (
                spec.paused(cal, max(begin, base), end)
                for begin, end in pauses
                if end is not None and end > base
            ),
            timedelta(0),
        )
        found.append(spec.extend(cal, due, stopped))

    if response_base is not None:
        deadline(level.response, response_base)
    else:
        deadline(level.keep_in_loop, inside_reply)
    deadline(level.resolve, ticket.created)
    return min(found) if found else None


def _pending(ctx: Context, ticket: Ticket, types: tuple[str, ...]) -> list[Transaction]:
    """This unit's transactions on `ticket` of `types` not written yet (newest last)."""
    return [
        t
        for t in ctx.batch
        if t.ticket_id == ticket.id and t.type in types and inspect(t).dict.get("id") is None
    ]


def _messages(ctx: Context, ticket: Ticket) -> list[tuple[str, int | None, datetime]]:
    """Create and Correspond transactions, newest first."""
    pending = [(t.type, t.actor_id, t.created) for t in reversed(_pending(ctx, ticket, MESSAGE_TYPES))]
    stored = ctx.session.execute(
        select(Transaction.type, Transaction.actor_id, Transaction.created)
        .where(Transaction.ticket_id == ticket.id, Transaction.type.in_(MESSAGE_TYPES))
        .order_by(Transaction.id.desc())
    ).all()
    return [*pending, *((k, a, c) for k, a, c in stored)]


def _pauses(ctx: Context, ticket: Ticket, level: Level) -> list[tuple[datetime, datetime | None]]:
    """The spans the ticket spent in the level's pause statuses (the last one open: None)."""
    stored = ctx.session.execute(
        select(Transaction.created, Transaction.old_value, Transaction.new_value)
        .where(
            Transaction.ticket_id == ticket.id,
            or_(Transaction.type == "Status", (Transaction.type == "Set") & (Transaction.field == "Status")),
        )
        .order_by(Transaction.id)
    ).all()
    pending = [
        (t.created, t.old_value, t.new_value)
        for t in _pending(ctx, ticket, ("Status", "Set"))
        if t.type == "Status" or t.field == "Status"
    ]
    events = [*stored, *pending]
    spans: list[tuple[datetime, datetime | None]] = []
    first = (events[0][1] if events else ticket.status) or ""
    since: datetime | None = ticket.created if first in level.pause_on else None
    for created, _old, new in events:
        if new in level.pause_on and since is None:
            since = created
        elif new not in level.pause_on and since is not None:
            spans.append((since, created))
            since = None
    if since is not None:
        spans.append((since, None))
    return spans


def time_left(ctx: Context, ticket: Ticket, now: datetime) -> timedelta | None:
    """Business time from `now` to Due on the ticket's level's calendar (negative: overdue)."""
    if ticket.due is None:
        return None
    level = load_config(ctx).level(ticket.sla) if ticket.sla else None
    cal = _calendar(ctx, level) if level is not None else ALWAYS_OPEN

    if ticket.due >= now:
        return between(cal, now, ticket.due)
    return -between(cal, ticket.due, now)


def clock_of(ctx: Context, ticket: Ticket) -> Literal["business", "real"] | None:
    """What the ticket's time left (`time_left`) counts: "business" time on its level's calendar,
    or "real" time for a level with no calendar (24x7) or one the desk no longer defines; None
    without a level."""
    if ticket.sla is None:
        return None
    level = load_config(ctx).level(ticket.sla)
    return "real" if level is None or _calendar(ctx, level) is ALWAYS_OPEN else "business"


def export_text(ctx: Context) -> str:
    import yaml

    return yaml.safe_dump(load_config(ctx).to_data(), sort_keys=False, default_flow_style=False)


__all__ = [
    "CalendarInvalid",
    "apply_service_levels",
    "clock_of",
    "due_for",
    "export_text",
    "level_for_new_ticket",
    "level_of",
    "load_config",
    "recompute",
    "set_level",
    "starts_for",
    "time_left",
]

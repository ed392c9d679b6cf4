"""Conditions: is a scrip applicable to a transaction?

A condition is a callable `(sc: ScripContext, argument: str) -> bool` with an attribute
`transaction_types` (a tuple of transaction types, or `("Any",)`). Built-ins follow RT's
`lib/RT/Condition/*`; operators add more as installed packages under the entry-point group
`tessera.scrip_conditions`. Expression conditions are Jinja expressions run in the sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache, lru_cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, cast

from tessera.core.errors import InvalidInput
from tessera.core.lifecycles.rules import CATEGORIES

if TYPE_CHECKING:
    from tessera.scrips.scrip_context import ScripContext

ConditionFn = Callable[["ScripContext", str], bool]
ANY = ("Any",)
OWNER_TYPES = ("Set", "Take", "Steal", "Untake", "Give")


class MarkedCondition(Protocol):
    """A condition that says which transaction types it looks at (what `condition` makes)."""

    transaction_types: tuple[str, ...]

    def __call__(self, sc: ScripContext, argument: str) -> bool: ...


def condition(*types: str) -> Callable[[ConditionFn], MarkedCondition]:
    def wrap(fn: ConditionFn) -> MarkedCondition:
        marked = cast(MarkedCondition, fn)  # a function takes attributes; its type does not say so
        marked.transaction_types = types or ANY
        return marked

    return wrap


def _status_change(sc: ScripContext) -> tuple[str, str] | None:
    txn = sc.txn
    if txn.type == "Status" or (txn.type == "Set" and txn.field == "Status"):
        return (txn.old_value or "", txn.new_value or "")
    return None


@lru_cache(maxsize=256)
def _status_words(spec: str) -> tuple[str, ...]:
    return tuple(w.strip().lower() for w in spec.split(",") if w.strip())


def _matches_status(sc: ScripContext, spec: str, status: str) -> bool:
    """`*`, a status name, a category word or a comma list of those."""
    words = _status_words(spec)
    if not words or "*" in words:
        return True
    lifecycle = sc.lifecycle
    category = lifecycle.category(status) if status and lifecycle.is_valid(status) else None
    return any(w == status or (w in CATEGORIES and w == category) for w in words)


@lru_cache(maxsize=256)
def parse_status_argument(argument: str) -> tuple[str, str] | None:
    """`OLD -> NEW`, RT's `old: a, b; new: c, d`, a single status (the new one) or empty (any).
    Kept per argument: every status change asks it of every status scrip."""
    arg = argument.strip()
    if not arg:
        return None
    if "->" in arg:
        old, _, new = arg.partition("->")
        return (old.strip() or "*", new.strip() or "*")
    if re.match(r"^\s*(old|new)\s*:", arg, re.I):
        parts = {"old": "*", "new": "*"}
        for piece in arg.split(";"):
            key, sep, value = piece.partition(":")
            if not sep or key.strip().lower() not in parts:
                raise InvalidInput(f"cannot read status argument {argument!r} (try 'open -> resolved')")
            parts[key.strip().lower()] = value.strip() or "*"
        return (parts["old"], parts["new"])
    return ("*", arg)


@condition("Status", "Set")
def on_status_change(sc: ScripContext, argument: str) -> bool:
    change = _status_change(sc)
    if change is None:
        return False
    spec = parse_status_argument(argument)
    if spec is None:
        return True
    return _matches_status(sc, spec[0], change[0]) and _matches_status(sc, spec[1], change[1])


@condition("Create")
def on_create(sc: ScripContext, argument: str) -> bool:
    return True


@condition()
def on_transaction(sc: ScripContext, argument: str) -> bool:
    return True


@condition("Correspond")
def on_correspond(sc: ScripContext, argument: str) -> bool:
    return True


@condition("Comment")
def on_comment(sc: ScripContext, argument: str) -> bool:
    return True


@condition("Status", "Set")
def on_resolve(sc: ScripContext, argument: str) -> bool:
    return on_status_change(sc, "resolved")


@condition("Status", "Set")
def on_reject(sc: ScripContext, argument: str) -> bool:
    return on_status_change(sc, "rejected")


@condition("Status", "Set")
def on_close(sc: ScripContext, argument: str) -> bool:
    return on_status_change(sc, "initial, active -> inactive")


@condition("Status", "Set")
def on_reopen(sc: ScripContext, argument: str) -> bool:
    return on_status_change(sc, "inactive -> initial, active")


@condition(*OWNER_TYPES)
def on_owner_change(sc: ScripContext, argument: str) -> bool:
    # Core records an owner change once (Take/Steal/Untake/Give, field Owner), so this fires once.
    return sc.txn.field == "Owner"


@condition("Set")
def on_priority_change(sc: ScripContext, argument: str) -> bool:
    return sc.txn.field == "Priority"


@condition("Set")
def on_queue_change(sc: ScripContext, argument: str) -> bool:
    return sc.txn.field == "Queue"


@condition("CustomField")
def on_custom_field_change(sc: ScripContext, argument: str) -> bool:
    name = argument.strip().lower()
    return not name or (sc.txn.field or "").lower() == name


@condition("Merged")
def on_merge(sc: ScripContext, argument: str) -> bool:
    return True


@condition("Forward Transaction", "Forward Ticket")
def on_forward(sc: ScripContext, argument: str) -> bool:
    return True


@condition("Forward Transaction")
def on_forward_transaction(sc: ScripContext, argument: str) -> bool:
    return True


@condition("Forward Ticket")
def on_forward_ticket(sc: ScripContext, argument: str) -> bool:
    return True


@condition("DeliveryFailed")
def on_delivery_failure(sc: ScripContext, argument: str) -> bool:
    """The mail server refused a recipient of a message about the ticket for good. Not when the
    refused message was itself the notice of a delivery failure (a bad owner address would
    otherwise be told of it again and again)."""
    return (sc.txn.data or {}).get("about_type") != "DeliveryFailed"


def _has_level(sc: ScripContext) -> bool:
    """RT's SLAIsApplied and the ticket's SLA: the ticket has a level the desk defines."""
    from tessera.core.sla import level_of

    return level_of(sc.ctx, sc.ticket) is not None


@condition("Create", "Set")
def sla_require_starts_set(sc: ScripContext, argument: str) -> bool:
    """RT's SLA_RequireStartsSet: a ticket with a level is created, or is given a level."""
    if sc.txn.type == "Set" and sc.txn.field != "SLA":
        return False
    return _has_level(sc)


@condition("Create", "Correspond", "Status", "Set")
def sla_require_due_set(sc: ScripContext, argument: str) -> bool:
    """RT's SLA_RequireDueSet: a create, a reply or a status change on a ticket with a level; any
    change of the level (the action leaves Due alone when it was cleared)."""
    txn = sc.txn
    if txn.type == "Set":
        if txn.field == "SLA":
            return True
        if txn.field != "Status":
            return False
    return _has_level(sc)


# -- time conditions (timers) -------------------------------------------------------------------
# A scrip with one of these is a timer: `tessera worker` (`tessera.scrips.timers`) finds the
# tickets whose clock ran out, and core records a `Timer` transaction on each, naming the scrip; the
# scrip's own condition is then true on that transaction only, so its action runs in the unit of
# work of the firing like any other scrip's (trace, outbox, the scrips of what it changes).

TIMER = "Timer"
_TIME_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


@dataclass(frozen=True)
class TimeSpec:
    """A time condition's argument, read: how long, counted in business or real time, and (for
    InStatus) which statuses."""

    condition: str
    amount: timedelta = timedelta(0)
    business: bool = False
    statuses: tuple[str, ...] = ()

    def text(self) -> str:
        minutes = int(self.amount.total_seconds() // 60)
        days, rest = divmod(minutes, 24 * 60) if not self.business else (0, minutes)
        hours, mins = divmod(rest, 60)
        shown = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{mins}m" if mins else "")
        return (shown or "0m") + (" business" if self.business else "")


def _time_amount(name: str, raw: str, example: str) -> tuple[timedelta, bool]:
    words = raw.strip().lower().split()
    business = False
    while words and words[-1] in ("business", "hours", "time", "business-hours"):
        business = business or words[-1].startswith("business")
        words.pop()
    text = "".join(words)
    match = _TIME_DURATION.match(text) if text else None
    if match is None or not any(match.groups()):
        raise InvalidInput(f"{name}: cannot read {raw.strip()!r} as a duration (e.g. {example})")
    if business and match.group(1):
        raise InvalidInput(f"{name}: business time is counted in hours and minutes (16h business), not days")
    from tessera.core.service_levels import MAX_DURATION_HOURS, duration_of

    amount = duration_of(*match.groups())
    if amount is None:
        raise InvalidInput(f"{name}: {raw.strip()!r} is too large (at most {MAX_DURATION_HOURS}h)")
    if amount <= timedelta(0):
        raise InvalidInput(f"{name}: the duration must be more than zero")
    return amount, business


def parse_time_argument(name: str, argument: str) -> TimeSpec:
    """A time condition's argument, or a one-line error naming what is wrong with it."""
    canonical = canonical_name(name)
    arg = argument.strip()
    if canonical in ("OnOverdue", "ReminderDue"):
        if arg:
            raise InvalidInput(f"{canonical} takes no argument (got {arg!r})")
        return TimeSpec(canonical)
    if canonical == "DueWithin":
        if not arg:
            raise InvalidInput("DueWithin needs how long before Due (e.g. 1h, 30m)")
        amount, business = _time_amount(canonical, arg, "1h, 30m")
        if business:
            raise InvalidInput(
                "DueWithin counts real time before Due (Due itself is in business hours): 1h, 30m"
            )
        return TimeSpec(canonical, amount)
    if canonical == "Untouched":
        if not arg:
            raise InvalidInput("Untouched needs how long without an agent's change (e.g. 8h business, 2d)")
        amount, business = _time_amount(canonical, arg, "8h business, 2d")
        return TimeSpec(canonical, amount, business)
    if canonical == "InStatus":
        head, sep, tail = arg.partition(" for ")
        if not sep:
            parts = arg.split(None, 1)
            head, tail = (parts[0], parts[1]) if len(parts) == 2 else (arg, "")
        statuses = tuple(w.strip().lower() for w in head.split(",") if w.strip())
        if not statuses or not tail.strip():
            raise InvalidInput(
                "InStatus needs the status and how long (e.g. 'resolved for 7d', 'stalled for 16h business')"
            )
        amount, business = _time_amount(canonical, tail, "7d, 16h business")
        return TimeSpec(canonical, amount, business, statuses)
    raise InvalidInput(f"{canonical} is not a time condition")


def _timer_fired(sc: ScripContext) -> bool:
    return sc.txn.type == TIMER and (sc.txn.data or {}).get("timer") == sc.scrip.id


@condition(TIMER)
def on_overdue(sc: ScripContext, argument: str) -> bool:
    """Timer: the ticket's Due has passed and it is not inactive (once per Due)."""
    return _timer_fired(sc)


@condition(TIMER)
def due_within(sc: ScripContext, argument: str) -> bool:
    """Timer: Due is less than the argument away (real time: 1h, 30m), once per Due."""
    return _timer_fired(sc)


@condition(TIMER)
def untouched(sc: ScripContext, argument: str) -> bool:
    """Timer: no agent changed the not-inactive ticket for the argument (8h business, 2d), once
    per quiet spell."""
    return _timer_fired(sc)


@condition(TIMER)
def in_status(sc: ScripContext, argument: str) -> bool:
    """Timer: the ticket stayed in a status for a while ('resolved for 7d', 'stalled for 16h
    business'), once per stay."""
    return _timer_fired(sc)


@condition(TIMER)
def reminder_due(sc: ScripContext, argument: str) -> bool:
    """Timer: an open reminder of the ticket fell due (once per reminder and due date)."""
    return _timer_fired(sc)


BUILTIN: dict[str, ConditionFn] = {
    "OnCreate": on_create,
    "OnTransaction": on_transaction,
    "OnCorrespond": on_correspond,
    "OnComment": on_comment,
    "OnStatusChange": on_status_change,
    "OnResolve": on_resolve,
    "OnReject": on_reject,
    "OnClose": on_close,
    "OnReopen": on_reopen,
    "OnOwnerChange": on_owner_change,
    "OnPriorityChange": on_priority_change,
    "OnQueueChange": on_queue_change,
    "OnCustomFieldChange": on_custom_field_change,
    "OnMerge": on_merge,
    "OnDeliveryFailure": on_delivery_failure,
    "OnForward": on_forward,
    "OnForwardTransaction": on_forward_transaction,
    "OnForwardTicket": on_forward_ticket,
    "SLARequireStartsSet": sla_require_starts_set,
    "SLARequireDueSet": sla_require_due_set,
    "OnOverdue": on_overdue,
    "DueWithin": due_within,
    "Untouched": untouched,
    "InStatus": in_status,
    "ReminderDue": reminder_due,
}
TIME_CONDITIONS = ("OnOverdue", "DueWithin", "Untouched", "InStatus", "ReminderDue")


def is_time_condition(name: str | None) -> bool:
    """Whether `name` is a time condition (its scrip a timer); unknown names are not."""
    if not name:
        return False
    try:
        return canonical_name(name) in TIME_CONDITIONS
    except InvalidInput:
        return False


def check_argument(name: str, argument: str) -> None:
    """Refuse a condition argument the condition cannot read (one line)."""
    canonical = canonical_name(name)
    if canonical == "OnStatusChange":
        parse_status_argument(argument)
    elif canonical in TIME_CONDITIONS:
        parse_time_argument(canonical, argument)


@cache
def registry() -> dict[str, ConditionFn]:
    """Built-ins plus what installed packages declare under `tessera.scrip_conditions`."""
    found: dict[str, ConditionFn] = dict(BUILTIN)
    for ep in entry_points(group="tessera.scrip_conditions"):
        if ep.name not in found:
            found[ep.name] = ep.load()
    return found


def lookup(name: str) -> ConditionFn:
    table = registry()
    fn = table.get(name)
    if fn is None:
        lowered = {k.lower().replace(" ", ""): v for k, v in table.items()}
        fn = lowered.get(name.lower().replace(" ", ""))
    if fn is None:
        raise InvalidInput(f"unknown condition {name!r} (conditions: {', '.join(sorted(table))})")
    return fn


def canonical_name(name: str) -> str:
    fn = lookup(name)
    return next(k for k, v in registry().items() if v is fn)


def types_of(fn: Any) -> tuple[str, ...]:
    return tuple(getattr(fn, "transaction_types", ANY))


def applies_to_type(types: tuple[str, ...], txn_type: str) -> bool:
    lowered = txn_type.lower()
    return any(t == "Any" or t.lower() == lowered for t in types)

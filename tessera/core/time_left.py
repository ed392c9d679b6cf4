"""Time left to Due for a page of the ticket list, in business time, for the whole page in one go.

A row's time left is the business time from now to its Due on its service level's calendar; real
time for a ticket without a level, with one the desk no longer defines, or with a level that names
no calendar (24x7); negative when overdue. A ticket whose status is inactive in its queue's
lifecycle (resolved, rejected, deleted) has none: its work is done, whatever Due it keeps (RT keeps
Due as a plain field), so the list raises no alarm for it. The service levels, the calendars they
name and which of the page's tickets are inactive are read once for the page (`fill_for`: one
round trip, `fast_sql.DUE_PAGE`, none when no row of the page has a Due), not once a row.
Counting stops at `LIMIT` (the list shows "99h+" beyond it), so a Due months away or long past
costs no more than one a few days off.

`due_within_clause` is the "breaching soon" filter: due within N business hours from now, or
overdue, each ticket on its own level's calendar, as one WHERE clause (one cutoff per calendar).

Light at import (the TUI's start-up helper fills its first page with it): SQLAlchemy, the models
and the service-level module are imported by the functions that read the database.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tessera.core.business_hours import ALWAYS_OPEN, Calendar, add, between, calendar_from_data
from tessera.core.errors import InvalidInput

if TYPE_CHECKING:
    from tessera.core.context import Context

LIMIT = timedelta(hours=100)  # the list shows up to 99h59m; beyond, "99h+"


class TicketRow(Protocol):
    """What `fill` reads and sets of a row (`listing.TicketRow`, which imports this module)."""

    id: int
    due: datetime | None
    sla: str | None
    left: timedelta | None


_parsed: dict[tuple[str, Any], Calendar] = {}  # calendars read from their definitions, by (name, updated)


def fill(
    rows: Iterable[TicketRow],
    now: datetime,
    calendars: Mapping[str, Calendar],
    stopped: Container[int] = (),
) -> None:
    """Set each row's `left` (None without a Due, or when its id is in `stopped`: tickets inactive
    in their lifecycle); `calendars`: level name (lower case) -> calendar."""
    for row in rows:
        due = row.due
        if due is None or row.id in stopped:
            row.left = None
            continue
        cal = calendars.get(row.sla.lower()) if row.sla else None
        if cal is None or cal is ALWAYS_OPEN:
            row.left = due - now
        elif due >= now:
            row.left = between(cal, now, due, LIMIT)
        else:
            row.left = -between(cal, due, now, LIMIT)


def level_calendars(row: Any) -> dict[str, Calendar]:
    """Level name (lower case) -> its calendar, from a row of `fast_sql.LEVEL_CALENDARS`: the
    levels' stored definitions and every calendar's (name, updated, definition); or of
    `fast_sql.DUE_PAGE`, which begins with the same two columns."""
    raw_levels, raw_calendars = (row[0], row[1]) if row is not None else (None, None)
    levels: Mapping[str, Any] = raw_levels if isinstance(raw_levels, dict) else {}
    definitions = {name: (updated, data) for name, updated, data in raw_calendars or []}
    out: dict[str, Calendar] = {}
    for name, level in levels.items():
        wanted = level.get("calendar") if isinstance(level, dict) else None
        found = definitions.get(wanted) if isinstance(wanted, str) else None
        if found is None or not isinstance(wanted, str):
            out[name.lower()] = ALWAYS_OPEN  # none named (24x7), or gone: real time
            continue
        updated, definition = found
        key = (wanted, updated)
        cal = _parsed.get(key)
        if cal is None:
            if len(_parsed) > 256:
                _parsed.clear()
            try:
                cal = _parsed[key] = calendar_from_data(definition)
            except InvalidInput:  # (validated when stored)
                cal = ALWAYS_OPEN
        out[name.lower()] = cal
    return out


def calendars_for(ctx: Context) -> dict[str, Calendar]:
    """Every level's calendar (level name in lower case -> calendar): the service levels and the
    calendars in one round trip (`fast_sql.LEVEL_CALENDARS`)."""
    from tessera.core.fast_sql import LEVEL_CALENDARS, driver_execute

    return level_calendars(driver_execute(ctx.session, LEVEL_CALENDARS, {}).fetchone())


def due_ids(rows: Iterable[TicketRow]) -> list[int]:
    """The rows with a Due: what `fast_sql.DUE_PAGE` is asked about (none: no read at all)."""
    return [row.id for row in rows if row.due is not None]


def fill_from(rows: Iterable[TicketRow], now: datetime, found: Any) -> None:
    """`fill` with a row of `fast_sql.DUE_PAGE` (None: nothing read, no row has a Due)."""
    if found is None:
        fill(rows, now, {})
        return
    fill(rows, now, level_calendars(found), set(found[2] or ()))


def fill_for(ctx: Context, rows: Sequence[TicketRow], now: datetime) -> None:
    """`fill` for a page read through `ctx`: the levels, calendars and inactive tickets in one
    round trip, only if a row has a Due."""
    ids = due_ids(rows)
    if not ids:
        fill_from(rows, now, None)
        return
    from tessera.core.fast_sql import DUE_PAGE, driver_execute

    fill_from(rows, now, driver_execute(ctx.session, DUE_PAGE, {"ids": ids}).fetchone())


def due_within_clause(ctx: Context, now: datetime, within: timedelta) -> Any:
    """Tickets due within `within` of business time from `now` (on their level's calendar; real
    time without one), or overdue (whatever their status: the view adds `Status = '__Active__'`)."""
    from sqlalchemy import and_, false, or_, true

    from tessera.core.models import Ticket
    from tessera.core.sla import load_config

    by_calendar: dict[Calendar, list[str]] = {}
    calendars = calendars_for(ctx)
    for name in load_config(ctx).levels:
        by_calendar.setdefault(calendars.get(name.lower(), ALWAYS_OPEN), []).append(name)
    known = [name for names in by_calendar.values() for name in names]
    real = or_(Ticket.sla.is_(None), Ticket.sla.not_in(known)) if known else true()
    either: list[Any] = [and_(real, Ticket.due <= now + within)]
    for cal, names in by_calendar.items():
        cutoff = now + within if cal is ALWAYS_OPEN else add(cal, now, within)
        either.append(and_(Ticket.sla.in_(names), Ticket.due <= cutoff))
    return and_(Ticket.due.is_not(None), or_(false(), *either))


__all__ = [
    "LIMIT",
    "calendars_for",
    "due_ids",
    "due_within_clause",
    "fill",
    "fill_for",
    "fill_from",
    "level_calendars",
]

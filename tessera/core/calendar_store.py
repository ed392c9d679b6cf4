"""Business calendars as config-as-code: list, export and apply the definitions in the database.

A calendar file is one YAML document per calendar (`---` between them; JSON: one object or a list
of them). `apply_calendars` validates every calendar of the file first and then creates or replaces
them all in one database transaction; `export_calendars` writes the canonical file, so applying an
export changes nothing. Calendars are not secret: anyone may list and export them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.core.business_hours import Calendar, CalendarInvalid, calendar_from_data
from tessera.core.context import Context, operation
from tessera.core.errors import InvalidInput, NotFound
from tessera.core.lifecycles.errors import LifecycleInvalid
from tessera.core.lifecycles.load import StrictLoader, json_object_once
from tessera.core.models import CalendarRecord

ADMIN_RIGHT = "AdminServiceLevels"
ApplyResult = Literal["created", "replaced", "unchanged"]


@dataclass(frozen=True)
class CalendarSummary:
    calendar: Calendar
    updated: datetime | None


class _Loader(StrictLoader):
    """The strict loader, reading dates as text: `calendar_from_data` checks them and names a bad
    one (YAML's own date reader fails on 2026-13-01 with no place)."""


def _date_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _date_as_text)


def parse_documents(text: str, label: str = "", expected: str = "one or more calendars") -> list[Any]:
    """The documents of a YAML stream (or a JSON object or list), duplicate keys refused."""
    text = text.removeprefix("\ufeff")
    try:
        if text.lstrip().startswith(("{", "[")):
            try:
                data = json.loads(text, object_pairs_hook=json_object_once)
                return data if isinstance(data, list) else [data]
            except json.JSONDecodeError:
                pass  # maybe YAML flow style; YAML decides
        docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except LifecycleInvalid as exc:
        raise CalendarInvalid(exc.message) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(document)"
        reason = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
        if "'\\t'" in reason:
            reason = "a tab character: YAML indents with spaces only"
        raise CalendarInvalid(f"{where}: not valid YAML or JSON: {reason}") from None
    if not docs:
        raise CalendarInvalid(f"(top level): the file is empty; expected {expected}")
    return docs


def load_calendars(text: str) -> list[Calendar]:
    """Every calendar of a file, validated; a problem names the calendar (by position and name)."""
    found: list[Calendar] = []
    seen: dict[str, int] = {}
    docs = parse_documents(text)
    for index, doc in enumerate(docs):
        where = f"calendar {index + 1}" if len(docs) > 1 else ""
        named = doc.get("name") if isinstance(doc, dict) else None
        if isinstance(named, str):
            where = f"calendar '{named.strip()}'"
        try:
            calendar = calendar_from_data(doc)
        except CalendarInvalid as exc:
            raise CalendarInvalid(f"{where}: {exc}" if where else str(exc)) from None
        key = calendar.name.lower()
        if key in seen:
            raise CalendarInvalid(f"calendar '{calendar.name}': given twice in one file")
        seen[key] = index
        found.append(calendar)
    return found


def _row(session: Session, name: str, *, lock: bool = False) -> CalendarRecord | None:
    query = select(CalendarRecord).where(func.lower(CalendarRecord.name) == name.strip().lower())
    return session.scalars(query.with_for_update() if lock else query).first()


# Parsed calendars by (name, updated): a stored definition never changes without a new `updated`,
# and a parsed calendar keeps its holidays loaded (the holidays library computes them per year).
_parsed: dict[tuple[str, datetime], Calendar] = {}


def calendar_by_name(session: Session, name: str) -> Calendar:
    row = _row(session, name)
    if row is None:
        names = list(session.scalars(select(CalendarRecord.name).order_by(CalendarRecord.name)))
        listed = ", ".join(names) if names else "none yet: `tessera calendar apply FILE` adds one"
        raise NotFound(f"no calendar named '{name.strip()}' (calendars: {listed})")
    key = (row.name, row.updated)
    found = _parsed.get(key)
    if found is None:
        if len(_parsed) > 256:
            _parsed.clear()
        found = _parsed[key] = calendar_from_data(row.definition)
    return found


def list_calendars(ctx: Context) -> list[CalendarSummary]:
    rows = ctx.session.scalars(select(CalendarRecord).order_by(func.lower(CalendarRecord.name)))
    return [CalendarSummary(calendar_from_data(r.definition), r.updated) for r in rows]


def get_calendar(ctx: Context, name: str) -> Calendar:
    return calendar_by_name(ctx.session, name)


def to_yaml(calendars: list[Calendar]) -> str:
    return "".join(
        ("---\n" if i else "")
        + yaml.safe_dump(c.to_dict(), sort_keys=False, default_flow_style=None, width=100)
        for i, c in enumerate(calendars)
    )


def export_calendars(ctx: Context, name: str | None = None) -> list[Calendar]:
    """One calendar by name, or every calendar (by name)."""
    if name is not None:
        return [get_calendar(ctx, name)]
    return [s.calendar for s in list_calendars(ctx)]


@operation
def apply_calendars(ctx: Context, text: str) -> list[tuple[Calendar, ApplyResult]]:
    """Create or replace every calendar of a file in one transaction (AdminServiceLevels); nothing
    is written unless all of them are valid. Applying what is stored already is a no-op."""
    ctx.require(ADMIN_RIGHT, "apply", "business calendars on this desk")
    done: list[tuple[Calendar, ApplyResult]] = []
    for calendar in load_calendars(text):
        row = _row(ctx.session, calendar.name, lock=True)
        definition = calendar.to_dict()
        if row is not None and row.name != calendar.name:
            raise InvalidInput(
                f"calendar '{calendar.name}': '{row.name}' already exists; "
                f"names ignore case, so write '{row.name}'"
            )
        if row is None:
            ctx.session.add(
                CalendarRecord(
                    name=calendar.name, definition=definition, updated=ctx.now, updated_by_id=ctx.actor.id
                )
            )
            done.append((calendar, "created"))
        elif row.definition == definition:
            done.append((calendar, "unchanged"))
        else:
            row.definition, row.updated, row.updated_by_id = definition, ctx.now, ctx.actor.id
            done.append((calendar, "replaced"))
    ctx.session.flush()
    return done

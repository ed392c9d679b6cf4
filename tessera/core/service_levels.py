"""Service levels as data (RT's `%ServiceAgreements`): the levels, and each queue's default level.

Pure: the definition, read and validated (one-line errors naming the place), and the deadline
arithmetic of one level on its calendar. The database side (storing the file, the tickets' Starts
and Due) is `tessera/core/sla.py`.

A level (RT's agreement keys, in Tessera's spelling):

    calendar: office           business hours (a stored calendar); none: 24x7
    starts: business           Starts = the first business minute after creation (RT's default);
                               `created`: Starts = Created (RT's StartImmediately)
    response: 4h               first response, and again after each requestor message an agent has
                               not answered: business time ("4h", "90m", "1h30m"); or
                               {business: 2h, real: 30m} (business first, then real, as RT) or
                               {real: 24h} (real time only)
    keep_in_loop: 1d?          after an agent's reply, the next one is due within this (optional)
    resolve: 16h               resolution, counted from Created
    pause_on: [stalled]        statuses that stop the clocks (RT's IgnoreOnStatuses); the time spent
                               in them is added back when the ticket leaves them
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from tessera.core.business_hours import ALWAYS_OPEN, Calendar, add, between, first_business_moment
from tessera.core.business_hours import CalendarInvalid as SlaInvalid
from tessera.core.spelling import did_you_mean

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?\s*(?:(\d+)m(?:in)?)?$")
MAX_DURATION_HOURS = 99999  # about 11 years: any deadline, timer or pause longer is a typing slip
MAX_DURATION = timedelta(hours=MAX_DURATION_HOURS)


def duration_of(days: str | None, hours: str | None, minutes: str | None) -> timedelta | None:
    """A duration's parts as matched (digits or None), or None when it is over `MAX_DURATION`."""
    parts = [int(g) if g and len(g) <= 12 else (0 if not g else None) for g in (days, hours, minutes)]
    if None in parts:
        return None
    d, h, m = (p or 0 for p in parts)
    total = timedelta(days=d, hours=h, minutes=m) if d <= MAX_DURATION.days else None
    return total if total is not None and total <= MAX_DURATION else None


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.+-]{0,63}$")
LEVEL_KEYS = ("calendar", "starts", "response", "keep_in_loop", "resolve", "pause_on")
DEADLINES = ("response", "keep_in_loop", "resolve")

__all__ = ["Deadline", "Level", "QueueRule", "SlaConfig", "SlaInvalid", "config_from_data"]


@dataclass(frozen=True)
class Deadline:
    """Business time first (on the level's calendar), then real time."""

    business: timedelta | None = None
    real: timedelta | None = None

    def apply(self, cal: Calendar, base: datetime) -> datetime:
        moment = add(cal, base, self.business) if self.business is not None else base
        return moment + self.real if self.real is not None else moment

    def paused(self, cal: Calendar, begin: datetime, end: datetime) -> timedelta:
        """How much of this deadline's clock a pause from `begin` to `end` stopped."""
        return between(cal, begin, end) if self.business is not None and self.real is None else end - begin

    def extend(self, cal: Calendar, due: datetime, paused: timedelta) -> datetime:
        if not paused:
            return due
        return add(cal, due, paused) if self.business is not None and self.real is None else due + paused

    def to_data(self) -> Any:
        if self.real is None and self.business is not None:
            return _duration_text(self.business)
        data = {}
        if self.business is not None:
            data["business"] = _duration_text(self.business)
        if self.real is not None:
            data["real"] = _duration_text(self.real)
        return data


@dataclass(frozen=True)
class Level:
    name: str
    calendar: str | None = None
    starts: Literal["business", "created"] = "business"
    response: Deadline | None = None
    keep_in_loop: Deadline | None = None
    resolve: Deadline | None = None
    pause_on: tuple[str, ...] = ()

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.calendar:
            data["calendar"] = self.calendar
        data["starts"] = self.starts
        for key in DEADLINES:
            deadline = getattr(self, key)
            if deadline is not None:
                data[key] = deadline.to_data()
        if self.pause_on:
            data["pause_on"] = list(self.pause_on)
        return data

    def starts_at(self, cal: Calendar, created: datetime) -> datetime:
        return created if self.starts == "created" else first_business_moment(cal, created)


@dataclass(frozen=True)
class QueueRule:
    """A queue's default level, and the levels its tickets take instead by a requestor's group
    (the first group listed that a requestor is in) or by a custom field's value at creation."""

    default: str | None = None
    requestor_groups: tuple[tuple[str, str], ...] = ()
    custom_field: str | None = None
    values: tuple[tuple[str, str], ...] = ()

    def to_data(self) -> Any:
        if not self.requestor_groups and self.custom_field is None:
            return self.default
        data: dict[str, Any] = {}
        if self.default is not None:
            data["default"] = self.default
        if self.requestor_groups:
            data["requestor_groups"] = dict(self.requestor_groups)
        if self.custom_field is not None:
            data["custom_field"] = {"name": self.custom_field, "values": dict(self.values)}
        return data

    def level_for(self, groups: set[str], fields: Mapping[str, list[str]]) -> str | None:
        """The level for a new ticket whose requestors are in `groups` (lower-case names) and whose
        custom fields are `fields` (lower-case name -> values): a field's value first, then a group."""
        if self.custom_field is not None:
            given = {v.strip().lower() for v in fields.get(self.custom_field.lower(), [])}
            for value, level in self.values:
                if value.lower() in given:
                    return level
        for group, level in self.requestor_groups:
            if group.lower() in groups:
                return level
        return self.default


@dataclass(frozen=True)
class SlaConfig:
    """Every level by name, and each queue's default level (a queue not listed has no SLA)."""

    levels: dict[str, Level] = field(default_factory=dict)
    queues: dict[str, QueueRule] = field(default_factory=dict)

    def level(self, name: str | None) -> Level | None:
        if name is None:
            return None
        return self.levels.get(name) or next(
            (lv for key, lv in self.levels.items() if key.lower() == name.lower()), None
        )

    def queue_rule(self, queue_name: str) -> QueueRule | None:
        return next((rule for q, rule in self.queues.items() if q.lower() == queue_name.lower()), None)

    def to_data(self) -> dict[str, Any]:
        return {
            "levels": {name: level.to_data() for name, level in self.levels.items()},
            "queues": {name: rule.to_data() for name, rule in self.queues.items()},
        }


def _duration_text(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{rest}m" if rest or not hours else "")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"a {type(value).__name__}"


def parse_duration(raw: Any, where: str, *, business: bool = True) -> timedelta:
    """`4h`, `90m`, `1h30m`, or a number of minutes; days (`2d`) only in real time, where a day is
    24 hours (a business day has no fixed length: write its hours)."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        if raw > MAX_DURATION_HOURS * 60:
            raise SlaInvalid(f"{where}: {_show(raw)} is too large (at most {MAX_DURATION_HOURS}h)")
        return timedelta(minutes=raw)
    text = raw.strip().lower().replace(" ", "") if isinstance(raw, str) else ""
    match = _DURATION.match(text) if text else None
    if match is None or not any(match.groups()):
        raise SlaInvalid(f"{where}: {_show(raw)} is not a duration (e.g. 4h, 90m, 1h30m, or minutes)")
    if match.group(1) and business:
        raise SlaInvalid(
            f"{where}: {_show(raw)}: business time is counted in hours and minutes (16h), not days; "
            "for real time write {real: 2d}"
        )
    amount = duration_of(*match.groups())
    if amount is None:
        raise SlaInvalid(f"{where}: {_show(raw)} is too large (at most {MAX_DURATION_HOURS}h)")
    return amount


def _deadline(raw: Any, where: str) -> Deadline | None:
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        unknown = [str(k) for k in raw if k not in ("business", "real")]
        if unknown:
            raise SlaInvalid(f"{where}.{unknown[0]}: unknown key (a deadline has business and real)")
        if not raw:
            raise SlaInvalid(f"{where}: give business time, real time or both ({{business: 4h}})")
        business = parse_duration(raw["business"], f"{where}.business") if "business" in raw else None
        real = parse_duration(raw["real"], f"{where}.real", business=False) if "real" in raw else None
        return Deadline(business=business, real=real)
    return Deadline(business=parse_duration(raw, where))


def _level(name: str, raw: Any, calendars: set[str], statuses: set[str] | None = None) -> Level:
    where = f"levels.{name}"
    if not _NAME.match(name):
        raise SlaInvalid(f"{where}: not a level name (1-64 letters, digits, space, _ . + -)")
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SlaInvalid(
            f"{where}: expected a level (calendar, starts, response, resolve, ...), got {_show(raw)}"
        )
    unknown = [str(k) for k in raw if k not in LEVEL_KEYS]
    if unknown:
        raise SlaInvalid(f"{where}.{unknown[0]}: unknown key (a level has {', '.join(LEVEL_KEYS)})")
    calendar = raw.get("calendar")
    if calendar is not None:
        known = {c.lower(): c for c in calendars}
        if not isinstance(calendar, str) or calendar.strip().lower() not in known:
            listed = ", ".join(sorted(calendars)) or "none yet: `tessera calendar apply FILE` first"
            raise SlaInvalid(f"{where}.calendar: no calendar named {_show(calendar)} (calendars: {listed})")
        calendar = known[calendar.strip().lower()]
    starts = raw.get("starts", "business")
    if starts not in ("business", "created"):
        raise SlaInvalid(
            f"{where}.starts: {_show(starts)} is not a start rule (business: the first business minute; "
            "created: at creation)"
        )
    pause = raw.get("pause_on") or []
    if isinstance(pause, str):
        pause = [pause]
    if not isinstance(pause, list) or not all(isinstance(s, str) and s.strip() for s in pause):
        raise SlaInvalid(f"{where}.pause_on: expected a list of statuses, got {_show(pause)}")
    for status in pause:
        if statuses is not None and status.strip().lower() not in statuses:
            hint = did_you_mean(status, sorted(statuses))
            raise SlaInvalid(f"{where}.pause_on: {_show(status)} is not a status of any lifecycle{hint}")
    level = Level(
        name=name,
        calendar=calendar,
        starts=starts,
        response=_deadline(raw.get("response"), f"{where}.response"),
        keep_in_loop=_deadline(raw.get("keep_in_loop"), f"{where}.keep_in_loop"),
        resolve=_deadline(raw.get("resolve"), f"{where}.resolve"),
        pause_on=tuple(dict.fromkeys(s.strip().lower() for s in pause)),
    )
    if level.response is None and level.resolve is None and level.keep_in_loop is None:
        raise SlaInvalid(f"{where}: give at least one deadline (response, resolve or keep_in_loop)")
    return level


def _rule(
    key: str, raw: Any, by_lower: dict[str, str], groups: dict[str, str], fields: dict[str, str]
) -> QueueRule:
    where = f"queues.{key}"
    listed = ", ".join(by_lower.values()) or "none"

    def level(value: Any, place: str) -> str:
        if not isinstance(value, str) or value.strip().lower() not in by_lower:
            raise SlaInvalid(f"{place}: {_show(value)} is not a level (levels: {listed})")
        return by_lower[value.strip().lower()]

    if not isinstance(raw, Mapping):
        return QueueRule(default=level(raw, where))
    unknown = [str(k) for k in raw if k not in ("default", "requestor_groups", "custom_field")]
    if unknown:
        raise SlaInvalid(f"{where}.{unknown[0]}: unknown key (default, requestor_groups, custom_field)")
    default = level(raw["default"], f"{where}.default") if raw.get("default") is not None else None
    by_group: list[tuple[str, str]] = []
    raw_groups = raw.get("requestor_groups") or {}
    if not isinstance(raw_groups, Mapping):
        raise SlaInvalid(
            f"{where}.requestor_groups: expected group names with a level, got {_show(raw_groups)}"
        )
    for group, value in raw_groups.items():
        name = groups.get(str(group).strip().lower())
        if name is None:
            raise SlaInvalid(f"{where}.requestor_groups.{group}: no group named '{group}'")
        by_group.append((name, level(value, f"{where}.requestor_groups.{group}")))
    field_name: str | None = None
    values: list[tuple[str, str]] = []
    cf = raw.get("custom_field")
    if cf is not None:
        if (
            not isinstance(cf, Mapping)
            or set(cf) != {"name", "values"}
            or not isinstance(cf["values"], Mapping)
        ):
            raise SlaInvalid(f"{where}.custom_field: expected {{name: FIELD, values: {{VALUE: LEVEL}}}}")
        field_name = fields.get(str(cf["name"]).strip().lower())
        if field_name is None:
            raise SlaInvalid(f"{where}.custom_field.name: no custom field named '{cf['name']}'")
        values = [
            (str(v).strip(), level(lv, f"{where}.custom_field.values.{v}")) for v, lv in cf["values"].items()
        ]
    return QueueRule(
        default=default, requestor_groups=tuple(by_group), custom_field=field_name, values=tuple(values)
    )


def config_from_data(
    data: Any,
    calendars: set[str],
    queues: dict[str, str],
    groups: dict[str, str] | None = None,
    fields: dict[str, str] | None = None,
    statuses: set[str] | None = None,
) -> SlaConfig:
    """Validate a service-level file against the desk's calendars, and its queues, groups and custom
    fields (lower-case name -> name); `SlaInvalid` names the first problem's place."""
    if not isinstance(data, Mapping):
        raise SlaInvalid(f"(document): expected levels and queues, got {_show(data)}")
    unknown = [str(k) for k in data if k not in ("levels", "queues")]
    if unknown:
        raise SlaInvalid(f"{unknown[0]}: unknown key (a service-level file has levels and queues)")
    raw_levels = data.get("levels") or {}
    if not isinstance(raw_levels, Mapping):
        raise SlaInvalid(f"levels: expected level names with their deadlines, got {_show(raw_levels)}")
    levels: dict[str, Level] = {}
    for key, raw in raw_levels.items():
        name = str(key).strip()
        if name.lower() in {n.lower() for n in levels}:
            raise SlaInvalid(f"levels.{name}: given twice (names ignore case)")
        levels[name] = _level(name, raw, calendars, statuses)
    raw_queues = data.get("queues") or {}
    if not isinstance(raw_queues, Mapping):
        raise SlaInvalid(f"queues: expected queue names with their default level, got {_show(raw_queues)}")
    by_lower = {n.lower(): n for n in levels}
    defaults: dict[str, QueueRule] = {}
    for key, raw in raw_queues.items():
        queue = queues.get(str(key).strip().lower())
        if queue is None:
            raise SlaInvalid(f"queues.{key}: no queue named '{key}'")
        defaults[queue] = _rule(str(key), raw, by_lower, groups or {}, fields or {})
    return SlaConfig(levels=levels, queues=defaults)


def calendar_of(level: Level, calendars: Mapping[str, Calendar]) -> Calendar:
    if level.calendar is None:
        return ALWAYS_OPEN
    return calendars.get(level.calendar.lower(), ALWAYS_OPEN)

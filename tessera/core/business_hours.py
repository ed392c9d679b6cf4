"""Business hours as data: a calendar (time zone, opening hours per weekday, holidays) and the
arithmetic of business time on it — add N business minutes to a moment, measure the business time
between two moments — across weekends, holidays and daylight-saving changes.

Pure: no database, no clock. Moments are aware datetimes (any zone; results are in UTC). Opening
hours are wall-clock times in the calendar's zone, so a 09:00-17:00 day is 09:00-17:00 local time
on both sides of a DST change; a window that contains the change itself (a 00:00-24:00 day) counts
the real time that passed in it (23 or 25 hours), as zoneinfo says.

`add(cal, t, 0)` is the first business moment at or after `t` (RT's "BusinessMinutes 0": the first
business minute); `add(cal, t, n)` for n > 0 ends inside or at the end of a window, never at the
next opening; `between(cal, a, add(cal, a, n)) == n` always (a property test checks it).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from tessera.core.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = {
    d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
}
_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
# How far ahead a deadline is looked for before the calendar is called closed for good (ten years).
MAX_DAYS = 3660
KEYS = ("name", "timezone", "hours", "holidays", "closed", "open")


class CalendarInvalid(InvalidInput):
    """A calendar definition is refused; the message starts with the exact place (`hours.mon[1]`)."""


Window = tuple[int, int]  # minutes from local midnight: [start, end), end <= 1440


@dataclass(frozen=True)
class Calendar:
    """A named business calendar. `hours[weekday]` are sorted, disjoint windows (Monday = 0);
    `country`/`subdivision` name public holidays (the `holidays` library); `closed` are the desk's
    own closed dates and `open` the dates it opens although they are public holidays."""

    name: str
    timezone: str
    hours: tuple[tuple[Window, ...], ...]
    country: str | None = None
    subdivision: str | None = None
    closed: frozenset[date] = field(default_factory=frozenset)
    open: frozenset[date] = field(default_factory=frozenset)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _public(self) -> Any:
        if self.country is None:
            return None
        import holidays

        return holidays.country_holidays(self.country, subdiv=self.subdivision)

    def holiday(self, day: date) -> str | None:
        """Why `day` is closed although its weekday has hours (a name), or None."""
        if day in self.open:
            return None
        if day in self.closed:
            return "closed (the desk's own date)"
        if self._public is not None and day in self._public:
            return str(self._public.get(day))
        return None

    def windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's opening windows as UTC moments (none on a holiday)."""
        return list(self._windows(day))

    @cached_property
    def _days(self) -> dict[date, tuple[tuple[datetime, datetime], ...]]:
        return {}

    def _windows(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """`windows`, remembered per day (a list page measures many deadlines over the same days;
        the holiday lookup and the zone arithmetic are most of a measurement's time)."""
        found = self._days.get(day)
        if found is None:
            hours = self.hours[day.weekday()]
            if not hours or self.holiday(day) is not None:
                found = ()
            else:
                found = tuple((self._moment(day, start), self._moment(day, end)) for start, end in hours)
            if len(self._days) >= 4096:
                self._days.clear()
            self._days[day] = found
        return found

    def _moment(self, day: date, minutes: int) -> datetime:
        if minutes >= 1440:
            day, minutes = day + timedelta(days=1), minutes - 1440
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    def _from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Windows that end after `moment`, in order, for at most MAX_DAYS days."""
        day = moment.astimezone(self.zone).date()
        for offset in range(MAX_DAYS):
            for start, end in self._windows(day + timedelta(days=offset)):
                if end > moment:
                    yield start, end

    def to_dict(self) -> dict[str, Any]:
        """The canonical definition (what is stored and exported; `calendar_from_data` reads it)."""
        hours: dict[str, Any] = {}
        day = 0
        while day < 7:  # runs of days with the same hours: mon-fri
            last = day
            while last + 1 < 7 and self.hours[last + 1] == self.hours[day]:
                last += 1
            if self.hours[day]:
                texts = [_window_text(w) for w in self.hours[day]]
                key = DAYS[day] if last == day else f"{DAYS[day]}-{DAYS[last]}"
                hours[key] = texts[0] if len(texts) == 1 else texts
            day = last + 1
        data: dict[str, Any] = {"name": self.name, "timezone": self.timezone, "hours": hours}
        if self.country:
            data["holidays"] = {"country": self.country}
            if self.subdivision:
                data["holidays"]["subdivision"] = self.subdivision
        if self.closed:
            data["closed"] = [d.isoformat() for d in sorted(self.closed)]
        if self.open:
            data["open"] = [d.isoformat() for d in sorted(self.open)]
        return data


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("business time needs aware datetimes")
    return moment.astimezone(UTC)


def first_business_moment(cal: Calendar, moment: datetime) -> datetime:
    """`moment` if the desk is open then, else the next opening."""
    return add(cal, moment, timedelta(0))


def add(cal: Calendar, moment: datetime, amount: timedelta) -> datetime:
    """The moment `amount` of business time after `moment` (see the module's rules for 0)."""
    if amount < timedelta(0):
        raise ValueError("business time is added forwards only")
    moment = _aware(moment)
    left = amount
    for start, end in cal._from(moment):
        start = max(start, moment)
        if left == timedelta(0):
            return start
        if left <= end - start:
            return start + left
        left -= end - start
    raise InvalidInput(f"calendar '{cal.name}' has no opening hours in the next {MAX_DAYS // 366} years")


def add_minutes(cal: Calendar, moment: datetime, minutes: int) -> datetime:
    return add(cal, moment, timedelta(minutes=minutes))


def between(cal: Calendar, begin: datetime, end: datetime, limit: timedelta | None = None) -> timedelta:
    """The business time from `begin` to `end` (zero when `end` is not after `begin`); with
    `limit`, counting stops once it is reached (the result is then at least `limit`): a list that
    only shows "more than 99h" need not walk every day of a deadline months away."""
    begin, end = _aware(begin), _aware(end)
    total = timedelta(0)
    if end <= begin:
        return total
    for start, stop in cal._from(begin):
        if start >= end:
            break
        total += min(stop, end) - max(start, begin)
        if limit is not None and total >= limit:
            break
    return total


def is_open(cal: Calendar, moment: datetime) -> bool:
    moment = _aware(moment)
    return any(start <= moment < end for start, end in cal.windows(moment.astimezone(cal.zone).date()))


# ---- definitions: read, validated, with one-line errors naming the place ----


def _window_text(window: Window) -> str:
    (a, b) = window
    return f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}"


def _where(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


def _window(raw: Any, where: str) -> Window:
    text = raw.strip() if isinstance(raw, str) else None
    match = _WINDOW.match(text) if text is not None else None
    if match is None:
        raise CalendarInvalid(f"{where}: {_show(raw)} is not opening hours as HH:MM-HH:MM (e.g. 09:00-17:30)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise CalendarInvalid(f"{where}: '{text}' has a time that does not exist (00:00 to 24:00)")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise CalendarInvalid(
            f"{where}: '{text}' ends before it starts (a window cannot cross midnight: "
            "write 22:00-24:00 and 00:00-06:00 on the next day)"
        )
    return start, end


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()} (YAML reads bare yes/no/on/off so: quote it)"
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "nothing"
    if isinstance(value, int | float):
        return f"the number {value} (quote times: '09:00-17:00')"
    return f"a {type(value).__name__}"


def _days_of(key: Any, where: str) -> list[int]:
    """`mon`, `monday`, `mon-fri` (a range, wrapping allowed: `fri-mon`) -> weekday numbers."""
    if not isinstance(key, str):
        raise CalendarInvalid(f"{where}: {_show(key)} is not a weekday (mon..sun, or a range like mon-fri)")

    def one(name: str) -> int:
        low = name.strip().lower()
        if low in DAYS:
            return DAYS.index(low)
        if low in _FULL:
            return _FULL[low]
        raise CalendarInvalid(
            f"{_where(where, key)}: '{name.strip()}' is not a weekday (mon..sun, or mon-fri)"
        )

    first, dash, last = key.partition("-")
    if not dash:
        return [one(first)]
    a, b = one(first), one(last)
    return [(a + i) % 7 for i in range((b - a) % 7 + 1)]


def _hours(raw: Any) -> tuple[tuple[Window, ...], ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise CalendarInvalid(
            "hours: expected weekdays with opening hours, e.g. {mon-fri: 09:00-17:00}, got " + _show(raw)
        )
    found: dict[int, tuple[str, list[Window]]] = {}
    for key, value in raw.items():
        where = _where("hours", str(key))
        days = _days_of(key, "hours")
        if value is None or value == "closed" or value == []:
            windows: list[Window] = []
        elif isinstance(value, list):
            windows = [_window(v, f"{where}[{i}]") for i, v in enumerate(value)]
        else:
            windows = [_window(value, where)]
        windows.sort()
        for (a, b), (c, d) in itertools.pairwise(windows):
            if c < b:
                raise CalendarInvalid(
                    f"{where}: '{_window_text((a, b))}' and '{_window_text((c, d))}' overlap"
                )
        for day in days:
            if day in found:
                raise CalendarInvalid(f"{where}: {DAYS[day]} is already given (in '{found[day][0]}')")
            found[day] = (str(key), windows)
    hours = tuple(tuple(found.get(day, ("", []))[1]) for day in range(7))
    if not any(hours):
        raise CalendarInvalid("hours: the calendar is never open (give at least one weekday opening hours)")
    return hours


def _timezone(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise CalendarInvalid(f"timezone: expected an IANA time zone such as Europe/Paris, got {_show(raw)}")
    name = raw.strip()
    try:
        if name not in _zones() and name != "UTC":
            raise ZoneInfoNotFoundError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarInvalid(
            f"timezone: '{name}' is not a time zone (IANA names such as Europe/Paris, America/New_York, UTC)"
        ) from None
    return name


def load_public_holidays() -> None:
    """Import every country of the holidays library: its first calendar with public holidays
    imports them all (~280 modules, ~8 MiB), so a process that forks sessions does it once, before
    the fork, for them to share."""
    import holidays

    holidays.list_supported_countries()


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _holidays(raw: Any) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    if isinstance(raw, str):
        raw = {"country": raw}
    if not isinstance(raw, Mapping):
        raise CalendarInvalid(f"holidays: expected {{country: FR}} (and subdivision), got {_show(raw)}")
    unknown = [str(k) for k in raw if k not in ("country", "subdivision")]
    if unknown:
        raise CalendarInvalid(f"holidays.{unknown[0]}: unknown key (holidays take country and subdivision)")
    import holidays

    supported = holidays.list_supported_countries()
    country = raw.get("country")
    if not isinstance(country, str) or country.strip().upper() not in supported:
        raise CalendarInvalid(
            f"holidays.country: {_show(country)} is not a country the holidays library knows "
            "(ISO 3166 codes such as US, GB, FR, DE)"
        )
    code = country.strip().upper()
    sub = raw.get("subdivision")
    if sub is None:
        return code, None
    subs = supported[code]
    by_upper = {s.upper(): s for s in subs}
    if not isinstance(sub, str | int) or str(sub).strip().upper() not in by_upper:
        listed = ", ".join(subs[:12]) + (", ..." if len(subs) > 12 else "")
        raise CalendarInvalid(
            f"holidays.subdivision: {_show(sub)} is not a subdivision of {code} ({listed or 'it has none'})"
        )
    return code, by_upper[str(sub).strip().upper()]


def _dates(raw: Any, key: str) -> frozenset[date]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise CalendarInvalid(f"{key}: expected a list of dates (YYYY-MM-DD), got {_show(raw)}")
    found = set()
    for i, value in enumerate(raw):
        if isinstance(value, date) and not isinstance(value, datetime):
            found.add(value)  # YAML reads a bare 2026-12-24 as a date
            continue
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            found.add(date.fromisoformat(value.strip()))
        except ValueError:
            raise CalendarInvalid(f"{key}[{i}]: {_show(value)} is not a date (YYYY-MM-DD)") from None
    return frozenset(found)


def calendar_from_data(data: Any) -> Calendar:
    """A validated calendar from a parsed definition; `CalendarInvalid` names the first problem."""
    if not isinstance(data, Mapping):
        raise CalendarInvalid(
            f"(document): expected a calendar (name, timezone, hours, ...), got {_show(data)}"
        )
    unknown = [str(k) for k in data if k not in KEYS]
    if unknown:
        raise CalendarInvalid(f"{unknown[0]}: unknown key (a calendar has {', '.join(KEYS)})")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name.strip()):
        raise CalendarInvalid(
            f"name: {_show(name)} is not a calendar name (1-64 letters, digits, space, _ . -)"
        )
    country, subdivision = _holidays(data.get("holidays"))
    closed, opened = _dates(data.get("closed"), "closed"), _dates(data.get("open"), "open")
    both = sorted(closed & opened)
    if both:
        raise CalendarInvalid(f"open: {both[0].isoformat()} is also listed under closed")
    return Calendar(
        name=name.strip(),
        timezone=_timezone(data.get("timezone")),
        hours=_hours(data.get("hours")),
        country=country,
        subdivision=subdivision,
        closed=closed,
        open=opened,
    )


ALWAYS_OPEN = Calendar(name="24x7", timezone="UTC", hours=tuple(((0, 1440),) for _ in range(7)))

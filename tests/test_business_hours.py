"""Business-time arithmetic on a calendar, with explicit moments (no clock, no sleeping): across a
weekend, a public holiday, the desk's own closed dates and both daylight-saving changes; and the
round trip `between(t, add(t, n)) == n` as a property over many moments and amounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.core.business_hours import (
    ALWAYS_OPEN,
    CalendarInvalid,
    add,
    add_minutes,
    between,
    calendar_from_data,
    first_business_moment,
    is_open,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = calendar_from_data(
    {
        "name": "office",
        "timezone": "Europe/Paris",
        "hours": {"mon-fri": "09:00-17:00"},
        "holidays": {"country": "FR"},
        "closed": ["2026-12-24"],
    }
)
LUNCH = calendar_from_data(
    {
        "name": "lunch",
        "timezone": "America/New_York",
        "hours": {"mon-thu": ["08:00-12:00", "13:00-17:30"], "fri": "08:00-12:00", "sat": "10:00-14:00"},
        "holidays": {"country": "US", "subdivision": "NY"},
        "open": ["2026-11-11"],  # Veterans Day: this desk works
    }
)
NIGHTS = calendar_from_data(
    {"name": "nights", "timezone": "Europe/Paris", "hours": {"mon-sun": ["00:00-06:00", "22:00-24:00"]}}
)


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def test_four_business_hours_from_friday_evening_end_on_monday_morning() -> None:
    friday_evening = paris(2026, 12, 4, 19, 30)
    assert add_minutes(OFFICE, friday_evening, 240) == paris(2026, 12, 7, 13, 0)
    assert between(OFFICE, friday_evening, paris(2026, 12, 7, 13, 0)) == timedelta(hours=4)


def test_time_left_in_the_day_carries_over_the_weekend() -> None:
    assert add_minutes(OFFICE, paris(2026, 12, 4, 16, 0), 120) == paris(2026, 12, 7, 10, 0)
    assert between(OFFICE, paris(2026, 12, 4, 16, 0), paris(2026, 12, 7, 10, 0)) == timedelta(hours=2)


def test_public_holiday_and_the_desks_own_closed_date_are_skipped() -> None:
    # Wed 23 Dec 16:00: one hour left; Thu 24 (own date), Fri 25 (Christmas), the weekend: Mon 28.
    assert add_minutes(OFFICE, paris(2026, 12, 23, 16, 0), 240) == paris(2026, 12, 28, 12, 0)
    assert OFFICE.holiday(paris(2026, 12, 25).date()) == "Christmas Day"
    assert OFFICE.holiday(paris(2026, 12, 24).date()) == "closed (the desk's own date)"


def test_a_date_listed_as_open_overrides_the_public_holiday() -> None:
    veterans_day = datetime(2026, 11, 11, 9, 0, tzinfo=NEW_YORK)  # a Wednesday
    assert is_open(LUNCH, veterans_day)
    thanksgiving = datetime(2026, 11, 26, 9, 0, tzinfo=NEW_YORK)
    assert not is_open(LUNCH, thanksgiving)
    assert first_business_moment(LUNCH, thanksgiving) == datetime(2026, 11, 27, 8, 0, tzinfo=NEW_YORK)


def test_opening_hours_stay_on_the_wall_clock_across_the_autumn_dst_change() -> None:
    # Paris leaves summer time on Sunday 25 Oct 2026: Friday is UTC+2, Monday UTC+1.
    friday = paris(2026, 10, 23, 16, 0)
    due = add_minutes(OFFICE, friday, 240)
    assert due == paris(2026, 10, 26, 12, 0)
    assert due.astimezone(UTC) == datetime(2026, 10, 26, 11, 0, tzinfo=UTC)
    assert due - friday == timedelta(days=2, hours=21)  # 2 days 20 hours on the wall, plus the hour back


def test_a_window_spanning_a_dst_change_counts_the_real_time_that_passed() -> None:
    always = ALWAYS_OPEN
    assert between(always, paris(2026, 10, 25), paris(2026, 10, 26)) == timedelta(hours=25)
    assert between(NIGHTS, paris(2026, 3, 29), paris(2026, 3, 29, 6, 0)) == timedelta(hours=5)
    assert between(NIGHTS, paris(2026, 10, 25), paris(2026, 10, 25, 6, 0)) == timedelta(hours=7)
    assert add_minutes(NIGHTS, paris(2026, 3, 29, 0, 0), 300) == paris(2026, 3, 29, 6, 0)


def test_zero_business_minutes_is_the_first_business_moment() -> None:
    assert add_minutes(OFFICE, paris(2026, 12, 5, 10, 0), 0) == paris(2026, 12, 7, 9, 0)
    assert add_minutes(OFFICE, paris(2026, 12, 7, 10, 0), 0) == paris(2026, 12, 7, 10, 0)
    # a deadline ending exactly at closing time ends there, not at the next opening
    assert add_minutes(OFFICE, paris(2026, 12, 7, 9, 0), 480) == paris(2026, 12, 7, 17, 0)


def test_lunch_breaks_and_a_saturday_window_are_business_time_only_when_open() -> None:
    friday = datetime(2026, 12, 4, 11, 0, tzinfo=NEW_YORK)
    # 1 h Friday morning, 4 h Saturday, then Monday 08:00-10:00
    assert add_minutes(LUNCH, friday, 420) == datetime(2026, 12, 7, 10, 0, tzinfo=NEW_YORK)
    assert between(
        LUNCH, datetime(2026, 12, 7, 11, 0, tzinfo=NEW_YORK), datetime(2026, 12, 7, 14, 0, tzinfo=NEW_YORK)
    ) == timedelta(hours=2)


def test_measuring_backwards_is_zero_and_adding_negative_time_is_refused() -> None:
    assert between(OFFICE, paris(2026, 12, 8), paris(2026, 12, 7)) == timedelta(0)
    with pytest.raises(ValueError):
        add(OFFICE, paris(2026, 12, 7), timedelta(minutes=-1))


def test_a_calendar_that_is_never_open_is_refused() -> None:
    with pytest.raises(CalendarInvalid, match="never open"):
        calendar_from_data({"name": "x", "timezone": "UTC", "hours": {"mon-sun": "closed"}})


MOMENTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(moment=MOMENTS, minutes=st.integers(min_value=0, max_value=30_000), seconds=st.integers(0, 59))
@pytest.mark.parametrize("calendar", [OFFICE, LUNCH, NIGHTS, ALWAYS_OPEN], ids=lambda c: c.name)
def test_adding_business_time_then_measuring_it_round_trips(
    calendar: object, moment: datetime, minutes: int, seconds: int
) -> None:
    from tessera.core.business_hours import Calendar

    assert isinstance(calendar, Calendar)
    amount = timedelta(minutes=minutes, seconds=seconds)
    due = add(calendar, moment, amount)
    assert due >= moment
    assert between(calendar, moment, due) == amount
    if amount:
        # the deadline is inside opening hours or at the very end of a window, never later
        assert is_open(calendar, due - timedelta(microseconds=1))
    assert add(calendar, moment, amount + timedelta(minutes=1)) > due


@settings(max_examples=200, deadline=None)
@given(a=MOMENTS, b=MOMENTS, c=MOMENTS)
def test_business_time_between_moments_adds_up(a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert between(LUNCH, a, b) + between(LUNCH, b, c) == between(LUNCH, a, c)
    assert between(LUNCH, a, c) <= c - a

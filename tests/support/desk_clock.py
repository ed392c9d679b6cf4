"""The desk's clock in tests: Paris moments and a fixture that sets the clock (nothing sleeps)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tessera.core import clock

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


@pytest.fixture
def at() -> Iterator[Callable[[datetime], None]]:
    """Set the desk's clock: `at(moment)`; every unit of work after it happens then."""
    moment: list[datetime] = [datetime.now(UTC)]
    clock.set_clock(lambda: moment[0])
    yield lambda when: moment.__setitem__(0, when)
    clock.set_clock(None)

"""The desk's clock: the time every unit of work, date parser and search reads as "now".

Time is injectable: in-process with `set_clock` (a function returning an aware datetime), and for a
whole process with `TESSERA_CLOCK` (an ISO moment with its offset, e.g.
`2026-12-04T19:30:00+01:00`), which is how tests run the real program at a chosen moment (a Friday
evening, the eve of a DST change) without waiting for it. A desk in service sets neither.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

from tessera.core.errors import InvalidInput

CLOCK_ENV = "TESSERA_CLOCK"
_override: Callable[[], datetime] | None = None
_parsed: tuple[str, datetime] | None = None


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Read the time from `clock` from now on (None: the real time, or TESSERA_CLOCK)."""
    global _override
    _override = clock


def now() -> datetime:
    if _override is not None:
        return _override().astimezone(UTC)
    fixed = os.environ.get(CLOCK_ENV)
    if not fixed:
        return datetime.now(UTC)
    global _parsed
    if _parsed is None or _parsed[0] != fixed:
        try:
            moment = datetime.fromisoformat(fixed.strip())
        except ValueError:
            raise InvalidInput(
                f"{CLOCK_ENV}: cannot read {fixed!r} as a moment (2026-12-04T19:30:00+01:00)"
            ) from None
        if moment.tzinfo is None:
            raise InvalidInput(f"{CLOCK_ENV}: {fixed!r} needs its UTC offset (2026-12-04T19:30:00+01:00)")
        _parsed = (fixed, moment.astimezone(UTC))
    return _parsed[1]

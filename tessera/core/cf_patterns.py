"""A custom field's pattern, matched with a time limit.

An admin's pattern such as `(a|aa)+$` backtracks without end on a crafted value (`aaaa…!`), and
Python's `re` cannot be stopped: the unit of work would spin while it holds the ticket's row lock,
and through the API it pins a worker. The `regex` library matches with a timeout; its default
syntax (VERSION0) is `re`'s, so a pattern means what it meant before.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from tessera.core.errors import InvalidInput

# A pattern an admin writes runs in microseconds on a value of at most MAX_VALUE characters.
MATCH_SECONDS = 0.25


@cache
def _regex() -> Any:
    import regex  # (on the first pattern: most commands never match one)

    return regex


def check(pattern: str) -> None:
    """Refuse, in one line, a pattern that does not compile."""
    regex = _regex()
    try:
        regex.compile(pattern)
    except regex.error as exc:
        raise InvalidInput(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None


def matches(pattern: str, value: str, field: str) -> bool:
    """Whether all of `value` matches `pattern`; refused in one line when it takes too long."""
    regex = _regex()
    try:
        return regex.fullmatch(pattern, value, timeout=MATCH_SECONDS) is not None
    except TimeoutError:
        raise InvalidInput(
            f"custom field {field!r}: its pattern {pattern!r} took over {MATCH_SECONDS:g} s on this value "
            "(it backtracks without end); an admin should simplify the pattern"
        ) from None
    except regex.error:  # stored before patterns were checked on save
        return False

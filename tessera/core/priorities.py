"""Priorities by name (RT's %PriorityAsString): `Low=0,Medium=50,High=100` unless
`TESSERA_PRIORITY_NAMES` says otherwise. Each name covers a range, from its number up to the next
name's: Medium is 50 to 99. Search takes the names (`Priority = 'High'`), the TUI shows them."""

from __future__ import annotations

import os
import re

from tessera.core.errors import ConfigError

PRIORITY_NAMES_ENV = "TESSERA_PRIORITY_NAMES"
DEFAULT_NAMES = "Low=0,Medium=50,High=100"
INT_MAX = 2**31 - 1
_ENTRY = re.compile(r"\s*([A-Za-z][A-Za-z0-9 _-]{0,39}?)\s*=\s*(-?\d{1,10})\s*")


def names() -> list[tuple[str, int]]:
    """The names with their lowest numbers, lowest first; a misconfiguration is one line."""
    raw = os.environ.get(PRIORITY_NAMES_ENV, "").strip() or DEFAULT_NAMES
    found: list[tuple[str, int]] = []
    for entry in raw.split(","):
        match = _ENTRY.fullmatch(entry)
        if match is None:
            raise ConfigError(
                f"{PRIORITY_NAMES_ENV}: cannot read {entry.strip()!r} (use Name=number, e.g. {DEFAULT_NAMES})"
            )
        number = int(match.group(2))
        if abs(number) > INT_MAX:
            raise ConfigError(f"{PRIORITY_NAMES_ENV}: {number} is out of range")
        found.append((match.group(1), number))
    lowered = [n.lower() for n, _ in found]
    numbers = [v for _, v in found]
    if len(set(lowered)) != len(lowered) or len(set(numbers)) != len(numbers):
        raise ConfigError(f"{PRIORITY_NAMES_ENV}: each name and each number may be given once")
    return sorted(found, key=lambda item: item[1])


def span(name: str) -> tuple[str, int, int | None] | None:
    """(the name as configured, lowest number, first number past it or None) for a name, any case."""
    table = names()
    for i, (label, low) in enumerate(table):
        if label.lower() == name.strip().lower():
            return label, low, (table[i + 1][1] if i + 1 < len(table) else None)
    return None


def name_of(priority: int | None) -> str | None:
    """The name whose range holds the number (None below the lowest, as RT shows no name)."""
    if priority is None:
        return None
    label = None
    for name, low in names():
        if priority >= low:
            label = name
    return label


def shown(priority: int | None) -> str:
    """`High (100)`, or the bare number when no name covers it."""
    if priority is None:
        return ""
    try:
        label = name_of(priority)
    except ConfigError:
        label = None
    return f"{label} ({priority})" if label else str(priority)

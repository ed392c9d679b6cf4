"""Ticket display ids, importable without SQLAlchemy (the TUI's start-up helper formats them)."""

from __future__ import annotations

import re

DISPLAY_PREFIX = "TKT-"
# `42`, `#42`, `TKT-0042`, `tkt42`: the digits (leading zeros dropped).
# ASCII digits only: `\d` takes any script's ('١' is 1 to int()), and an id typed in one is a typo.
TICKET_REF = re.compile(rf"^\s*(?:(?:{re.escape(DISPLAY_PREFIX.rstrip('-'))}-?)|#)?0*([0-9]+)\s*$", re.I)
MAX_TICKET_ID = 2**31 - 1


def display_id(ticket_id: int) -> str:
    """`TKT-0042`: at least four digits, more as the desk grows."""
    return f"{DISPLAY_PREFIX}{ticket_id:04d}"


def ticket_number(text: str) -> int | None:
    """The ticket `text` names (`42`, `#42`, `TKT-0042`), or None when it is not a ticket number
    (the search bar and the palette then treat it as a query)."""
    match = TICKET_REF.match(text)
    if match is None or len(match.group(1)) > 10 or int(match.group(1)) > MAX_TICKET_ID:
        return None
    return int(match.group(1))

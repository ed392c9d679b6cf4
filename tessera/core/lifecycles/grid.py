"""The transitions grid people read (`tessera lifecycle show`, the TUI's lifecycle pane): one row
per from status (and one for creation), one column per to status, each allowed cell the code of the
right it asks (M for ModifyTicket), one mark for "not allowed" and one for "same status".

Pure, and the only definition of the codes and marks, so the CLI and the TUI show the same grid.
"""

from __future__ import annotations

from collections.abc import Iterable

from tessera.core.lifecycles.model import Lifecycle
from tessera.core.lifecycles.rules import CREATE_RIGHT

NOT_ALLOWED = "."
SAME = "-"
CREATION_ROW = "(create)"


def right_codes(rights: Iterable[str]) -> dict[str, str]:
    """Short cell marks for rights, from their initials (M for ModifyTicket), unique by a digit."""
    codes: dict[str, str] = {}
    for right in dict.fromkeys(rights):
        base = "".join(c for c in right if c.isupper())[:1] or right[:1].upper()
        code, n = base, 2
        while code in codes.values() or code in (NOT_ALLOWED, SAME):
            code, n = f"{base}{n}", n + 1
        codes[right] = code
    return codes


def grid_codes(lifecycle: Lifecycle) -> dict[str, str]:
    """The code of every right the grid shows: creation's first, then in first-use order."""
    return right_codes([CREATE_RIGHT, *lifecycle.rights_used()])


def grid_cells(lifecycle: Lifecycle, codes: dict[str, str]) -> list[tuple[str, list[str]]]:
    """Each row's from status ('' for creation) and its cells, in the lifecycle's status order."""
    statuses = list(lifecycle.statuses)
    rows: list[tuple[str, list[str]]] = []
    for from_status in ["", *statuses]:
        allowed = set(lifecycle.next_statuses(from_status))
        cells = [
            SAME
            if to == from_status
            else (codes[lifecycle.right_for(from_status, to)] if to in allowed else NOT_ALLOWED)
            for to in statuses
        ]
        rows.append((from_status, cells))
    return rows


def legend(codes: dict[str, str]) -> str:
    """What the marks mean: `M = ModifyTicket, ...; . not allowed; - same status`."""
    named = ", ".join(f"{code} = {right}" for right, code in codes.items())
    return f"{named}; {NOT_ALLOWED} not allowed; {SAME} same status"

"""The words a lifecycle is made of and its transition rules, shared by the model and the validator.

Pure constants and two functions: which statuses a status (or creation) may move to. Kept apart so
the validator can check a raw definition with the same rules the model answers with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Literal

Category = Literal["initial", "active", "inactive"]
UpdateType = Literal["respond", "comment", "none"]
RightCheck = Callable[[str], bool]
"""Answers "does the actor hold this right (on this ticket)?"; lets the pure model filter per actor."""

CATEGORIES: tuple[Category, ...] = ("initial", "active", "inactive")
CREATION = ""
ANY = "*"
DELETED = "deleted"
"""The status RT's lifecycles use for a deleted ticket (creation never allows it by default)."""
MODIFY_RIGHT = "ModifyTicket"
DELETE_RIGHT = "DeleteTicket"
CREATE_RIGHT = "CreateTicket"
MAX_STATUS_LENGTH = 64
MAX_RIGHT_LENGTH = 25


def allowed_targets(transitions: Mapping[str, list[str]], from_key: str) -> list[str]:
    """Allowed next statuses of an existing status: its own list, then the `'*'` list; never itself."""
    merged = dict.fromkeys([*transitions.get(from_key, []), *transitions.get(ANY, [])])
    merged.pop(from_key, None)
    return list(merged)


def creation_targets(transitions: Mapping[str, list[str]], statuses: Iterable[str]) -> list[str]:
    """Statuses a ticket may be created in: `transitions['']`, else every status but `deleted`."""
    if CREATION in transitions:
        return list(transitions[CREATION])
    return [s for s in statuses if s != DELETED]

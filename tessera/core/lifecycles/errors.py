"""A lifecycle's refusals, and how their messages name the place (`transitions.open[2]`) and value."""

from __future__ import annotations

import json
import re
from typing import Any

from tessera.core.errors import InvalidInput, PermissionDenied

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class LifecycleInvalid(InvalidInput):
    """A lifecycle definition is refused; `message` is the first problem, `problems` lists them all."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class TransitionRefused(InvalidInput):
    """The lifecycle does not allow a status change (or a queue move) at all, whoever asks."""


class TransitionForbidden(PermissionDenied):
    """The lifecycle allows the status change, but the actor lacks the right it requires."""


def key_path(base: str, key: str) -> str:
    """`transitions.open` for plain keys, `transitions[""]` or `rights["* -> *"]` for the rest."""
    return f"{base}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{base}[{json.dumps(key)}]"


def describe_value(value: Any) -> str:
    """A value as a refusal names it, with YAML's surprise booleans explained."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()} (YAML reads bare yes/no/on/off/true/false so: quote it)"
    if value is None:
        return "nothing"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return f"'{value}'"
    return f"{type(value).__name__} {value!r}"

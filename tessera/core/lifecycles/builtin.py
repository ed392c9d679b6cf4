"""The lifecycles Tessera ships: RT's `default` and `approvals`, as in RT's `etc/RT_Config.pm.in`.

They are plain definitions in the lifecycle file format, so they pass the same validation as a file a
person writes and export to the same YAML. RT ships no `__maps__` entry between them (the approvals
queue is internal and tickets are not moved in or out of it), so neither do we.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from tessera.core.lifecycles.model import Lifecycle

DEFAULT_LIFECYCLE = "default"
APPROVALS_LIFECYCLE = "approvals"

_STATUSES: dict[str, list[str]] = {
    "initial": ["new"],
    "active": ["open", "stalled"],
    "inactive": ["resolved", "rejected", "deleted"],
}

_ACTIONS: list[dict[str, str]] = [
    {"from": "new", "to": "open", "label": "Open It", "update": "respond"},
    {"from": "new", "to": "resolved", "label": "Resolve", "update": "comment"},
    {"from": "new", "to": "rejected", "label": "Reject", "update": "respond"},
    {"from": "new", "to": "deleted", "label": "Delete", "update": "none"},
    {"from": "open", "to": "stalled", "label": "Stall", "update": "comment"},
    {"from": "open", "to": "resolved", "label": "Resolve", "update": "comment"},
    {"from": "open", "to": "rejected", "label": "Reject", "update": "respond"},
    {"from": "stalled", "to": "open", "label": "Open It", "update": "none"},
    {"from": "resolved", "to": "open", "label": "Re-open", "update": "comment"},
    {"from": "rejected", "to": "open", "label": "Re-open", "update": "comment"},
    {"from": "deleted", "to": "open", "label": "Undelete", "update": "none"},
]

DEFAULT_DEFINITION: dict[str, Any] = {
    "name": DEFAULT_LIFECYCLE,
    **_STATUSES,
    "defaults": {
        "on_create": "new",
        "approved": "open",
        "denied": "rejected",
        "reminder_on_open": "open",
        "reminder_on_resolve": "resolved",
    },
    "transitions": {
        "": ["new", "open", "resolved"],
        "new": ["open", "stalled", "resolved", "rejected", "deleted"],
        "open": ["new", "stalled", "resolved", "rejected", "deleted"],
        "stalled": ["new", "open", "resolved", "rejected", "deleted"],
        "resolved": ["new", "open", "stalled", "rejected", "deleted"],
        "rejected": ["new", "open", "stalled", "resolved", "deleted"],
        "deleted": ["new", "open", "stalled", "resolved", "rejected"],
    },
    "rights": {"* -> deleted": "DeleteTicket", "* -> *": "ModifyTicket"},
    "actions": _ACTIONS,
}

# RT: "don't change lifecyle of the approvals, they are not capable to deal with custom statuses".
# Same statuses; no approved/denied defaults; its own list order for stalled and deleted; an extra
# (redundant) `* -> rejected` right.
APPROVALS_DEFINITION: dict[str, Any] = {
    "name": APPROVALS_LIFECYCLE,
    **_STATUSES,
    "defaults": {"on_create": "new", "reminder_on_open": "open", "reminder_on_resolve": "resolved"},
    "transitions": {
        "": ["new", "open", "resolved"],
        "new": ["open", "stalled", "resolved", "rejected", "deleted"],
        "open": ["new", "stalled", "resolved", "rejected", "deleted"],
        "stalled": ["new", "open", "rejected", "resolved", "deleted"],
        "resolved": ["new", "open", "stalled", "rejected", "deleted"],
        "rejected": ["new", "open", "stalled", "resolved", "deleted"],
        "deleted": ["new", "open", "stalled", "rejected", "resolved"],
    },
    "rights": {"* -> deleted": "DeleteTicket", "* -> rejected": "ModifyTicket", "* -> *": "ModifyTicket"},
    "actions": _ACTIONS,
}

_DEFINITIONS: dict[str, dict[str, Any]] = {
    DEFAULT_LIFECYCLE: DEFAULT_DEFINITION,
    APPROVALS_LIFECYCLE: APPROVALS_DEFINITION,
}


@cache
def _validated() -> tuple[Lifecycle, ...]:
    return tuple(Lifecycle.from_data(copy.deepcopy(d)) for d in _DEFINITIONS.values())


def builtin_lifecycles() -> list[Lifecycle]:
    """The shipped lifecycles, validated (once; they are immutable), `default` first."""
    return list(_validated())


def builtin_lifecycle(name: str) -> Lifecycle | None:
    """A shipped lifecycle by name, or None if Tessera ships none of that name."""
    return next((lc for lc in _validated() if lc.name == name), None)


def builtin_definition(name: str) -> dict[str, Any]:
    """A fresh copy of a shipped definition as data (e.g. to start a custom lifecycle from it)."""
    return copy.deepcopy(_DEFINITIONS[name])

"""The shipped lifecycles equal RT's, entry by entry.

The expected values are transcribed here from RT's `etc/RT_Config.pm.in` (`%Lifecycles`, as quoted
in rt-semantics.md 2.2), in RT's own shapes — `"from -> to" => {label, update}` actions with
`update` absent for quick actions — and are not read back from `lifecycles.builtin`, so a drift in
either place fails.
"""

from __future__ import annotations

from typing import Any

import pytest

from tessera.core.lifecycles.builtin import builtin_lifecycle

RT_STATUSES = {
    "initial": ["new"],
    "active": ["open", "stalled"],
    "inactive": ["resolved", "rejected", "deleted"],
}
RT_ACTIONS: list[tuple[str, str, str | None]] = [
    ("new -> open", "Open It", "Respond"),
    ("new -> resolved", "Resolve", "Comment"),
    ("new -> rejected", "Reject", "Respond"),
    ("new -> deleted", "Delete", None),
    ("open -> stalled", "Stall", "Comment"),
    ("open -> resolved", "Resolve", "Comment"),
    ("open -> rejected", "Reject", "Respond"),
    ("stalled -> open", "Open It", None),
    ("resolved -> open", "Re-open", "Comment"),
    ("rejected -> open", "Re-open", "Comment"),
    ("deleted -> open", "Undelete", None),
]
RT: dict[str, dict[str, Any]] = {
    "default": {
        **RT_STATUSES,
        "defaults": {
            "on_create": "new",
            "approved": "open",
            "denied": "rejected",
            "reminder_on_open": "open",
            "reminder_on_resolve": "resolved",
        },
        "transitions": {
            "": "new open resolved",
            "new": "open stalled resolved rejected deleted",
            "open": "new stalled resolved rejected deleted",
            "stalled": "new open resolved rejected deleted",
            "resolved": "new open stalled rejected deleted",
            "rejected": "new open stalled resolved deleted",
            "deleted": "new open stalled resolved rejected",
        },
        "rights": {"* -> deleted": "DeleteTicket", "* -> *": "ModifyTicket"},
    },
    "approvals": {
        **RT_STATUSES,
        "defaults": {"on_create": "new", "reminder_on_open": "open", "reminder_on_resolve": "resolved"},
        "transitions": {
            "": "new open resolved",
            "new": "open stalled resolved rejected deleted",
            "open": "new stalled resolved rejected deleted",
            "stalled": "new open rejected resolved deleted",
            "resolved": "new open stalled rejected deleted",
            "rejected": "new open stalled resolved deleted",
            "deleted": "new open stalled rejected resolved",
        },
        "rights": {"* -> deleted": "DeleteTicket", "* -> rejected": "ModifyTicket", "* -> *": "ModifyTicket"},
    },
}


@pytest.mark.parametrize("name", sorted(RT))
def test_shipped_lifecycle_is_rts(name: str) -> None:
    shipped = builtin_lifecycle(name)
    assert shipped is not None
    rt = RT[name]
    for category in ("initial", "active", "inactive"):
        assert getattr(shipped, category) == rt[category], category
    assert shipped.defaults.model_dump(exclude_none=True) == rt["defaults"]
    # Order matters too: it drives menus and RT's FirstActiveStatus / FirstInactiveStatus.
    assert shipped.transitions == {k: v.split() for k, v in rt["transitions"].items()}
    assert shipped.rights == rt["rights"]
    assert [(f"{a.from_} -> {a.to}", a.label, a.update) for a in shipped.actions] == [
        (key, label, (update or "none").lower()) for key, label, update in RT_ACTIONS
    ]
    assert shipped.maps == {}  # RT ships no __maps__ between them
    assert shipped.warnings() == []

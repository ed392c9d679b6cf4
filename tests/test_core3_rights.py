"""RT's rights model, the rights the first table leaves out: SeeQueue, ShowTicketComments,
AdminQueue, ModifyScrips, SuperUser, and the Cc / AdminCc / Owner roles granting through a ticket."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tessera.core import grants, queues, tickets, users
from tessera.core.context import open_context
from tessera.core.errors import NotFound, PermissionDenied
from tessera.core.schemas import MessageIn
from tessera.core.serialize import history
from tessera.scrips import manage

Grants = list[tuple[str, str, str | None]]  # (right, principal, queue or None for global)


def _sees_general(ctx, t) -> None:  # type: ignore[no-untyped-def]
    if "General" not in [q.name for q in queues.list_queues(ctx)]:
        raise PermissionDenied("General not listed")


def _reads_comment(ctx, t) -> None:  # type: ignore[no-untyped-def]
    comment = next(h for h in history(ctx, tickets.get_ticket(ctx, t.id)) if h["type"] == "Comment")
    if comment["message"].get("hidden"):
        raise PermissionDenied(comment["message"]["reason"])
    assert comment["message"]["content"] == "internal note"


def _edit_general(ctx, t) -> None:  # type: ignore[no-untyped-def]
    queues.update_queue(ctx, "General", {"description": "changed"})


def _create_queue(ctx, t) -> None:  # type: ignore[no-untyped-def]
    queues.create_queue(ctx, "Billing")


def _grant_on_general(ctx, t) -> None:  # type: ignore[no-untyped-def]
    grants.grant(ctx, "ShowTicket", "role:Everyone", "General")


def _grant_globally(ctx, t) -> None:  # type: ignore[no-untyped-def]
    grants.grant(ctx, "ShowTicket", "role:Everyone")


def _list_scrips(ctx, t) -> None:  # type: ignore[no-untyped-def]
    manage.list_scrips(ctx)


def _show(ctx, t) -> None:  # type: ignore[no-untyped-def]
    tickets.get_ticket(ctx, t.id)


def _reply(ctx, t) -> None:  # type: ignore[no-untyped-def]
    tickets.correspond(ctx, t.id, MessageIn(body="hello"))


def _add_user(ctx, t) -> None:  # type: ignore[no-untyped-def]
    users.add_user(ctx, "newbie")


def _list_people(ctx, t) -> None:  # type: ignore[no-untyped-def]
    users.list_users(ctx)
    users.list_groups(ctx)
    grants.list_grants(ctx)


SHOW = ("ShowTicket", "ann", "General")
CASES: list[tuple[str, Grants, Callable, dict[str, str], bool]] = [
    # (case, grants for ann, action, ann's role on the ticket, allowed?)
    ("no SeeQueue: the queue is not listed", [], _sees_general, {}, False),
    ("SeeQueue on the queue lists it", [("SeeQueue", "ann", "General")], _sees_general, {}, True),
    ("SeeQueue on another queue", [("SeeQueue", "ann", "Network")], _sees_general, {}, False),
    ("SeeQueue through a group", [("SeeQueue", "group:Helpers", None)], _sees_general, {}, True),
    ("comments hidden without ShowTicketComments", [SHOW], _reads_comment, {}, False),
    (
        "ShowTicketComments shows them",
        [SHOW, ("ShowTicketComments", "ann", "General")],
        _reads_comment,
        {},
        True,
    ),
    (
        "ShowTicketComments to the AdminCc role, ann is AdminCc",
        [SHOW, ("ShowTicketComments", "role:AdminCc", None)],
        _reads_comment,
        {"AdminCc": "ann"},
        True,
    ),
    (
        "ShowTicketComments to the AdminCc role, ann is only Cc",
        [SHOW, ("ShowTicketComments", "role:AdminCc", None)],
        _reads_comment,
        {"Cc": "ann"},
        False,
    ),
    ("ShowTicket to the Cc role, ann is Cc", [("ShowTicket", "role:Cc", None)], _show, {"Cc": "ann"}, True),
    (
        "ReplyToTicket to the Owner role, ann owns it",
        [SHOW, ("ReplyToTicket", "role:Owner", "General"), ("OwnTicket", "ann", None)],
        _reply,
        {"Owner": "ann"},
        True,
    ),
    (
        "ReplyToTicket to the Owner role, someone else owns it",
        [SHOW, ("ReplyToTicket", "role:Owner", "General")],
        _reply,
        {"Owner": "olga"},
        False,
    ),
    ("queue settings need AdminQueue", [SHOW], _edit_general, {}, False),
    ("AdminQueue on the queue", [("AdminQueue", "ann", "General")], _edit_general, {}, True),
    ("AdminQueue on another queue", [("AdminQueue", "ann", "Network")], _edit_general, {}, False),
    ("a new queue needs AdminQueue globally", [("AdminQueue", "ann", "General")], _create_queue, {}, False),
    ("AdminQueue globally creates queues", [("AdminQueue", "ann", None)], _create_queue, {}, True),
    (
        "AdminQueue grants rights on its queue",
        [("AdminQueue", "ann", "General")],
        _grant_on_general,
        {},
        True,
    ),
    ("AdminQueue does not grant global rights", [("AdminQueue", "ann", None)], _grant_globally, {}, False),
    ("scrips need ShowScrips or ModifyScrips", [SHOW], _list_scrips, {}, False),
    ("ModifyScrips", [("ModifyScrips", "ann", None)], _list_scrips, {}, True),
    ("SuperUser grants global rights", [("SuperUser", "ann", None)], _grant_globally, {}, True),
    ("SuperUser adds users", [("SuperUser", "ann", None)], _add_user, {}, True),
    ("SuperUser reads comments", [("SuperUser", "ann", None)], _reads_comment, {}, True),
    ("Everyone is not SuperUser", [("ShowTicket", "role:Everyone", None)], _add_user, {}, False),
    ("an agent lists people, groups and grants", [], _list_people, {}, True),
    ("a requestor may not", [("privileged", "no", None)], _list_people, {}, False),
    (
        "a requestor with AdminUsers may",
        [("privileged", "no", None), ("AdminUsers", "ann", None)],
        _list_people,
        {},
        True,
    ),
]


@pytest.mark.parametrize("case, granted, action, roles, allowed", CASES, ids=[c[0] for c in CASES])
def test_rights_table_more(desk, case, granted, action, roles, allowed) -> None:  # type: ignore[no-untyped-def]
    for name in ("ann", "olga"):
        users.add_user(desk.root, name, email=f"{name}@desk.example")
    grants.grant(desk.root, "OwnTicket", "user:olga")
    users.add_group(desk.root, "Helpers")
    users.set_membership(desk.root, "Helpers", "ann", member=True)
    for right, who, queue in granted:
        if right == "privileged":  # not a right: ann made a requestor
            users.update_user(desk.root, "ann", {"privileged": who})
            continue
        grants.grant(desk.root, right, who if ":" in who else f"user:{who}", queue)
    watchers = {k.lower(): [f"{v}@desk.example"] for k, v in roles.items() if k != "Owner"}
    t = desk.ticket(owner=roles.get("Owner"), **watchers)
    tickets.comment(desk.root, t.id, MessageIn(body="internal note"))
    ann = open_context(desk.session, "ann")
    if allowed:
        action(ann, t)
    else:
        with pytest.raises((PermissionDenied, NotFound)):
            action(ann, t)

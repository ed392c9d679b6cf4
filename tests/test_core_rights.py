"""RT's rights model, as tables: who may do what, through which kind of grant.

The first table covers the ticket rights; the second SeeQueue, ShowTicketComments, AdminQueue,
ModifyScrips, SuperUser, and the Cc / AdminCc / Owner roles granting through a ticket."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tessera.core import grants, ownership, queues, tickets, users, watchers
from tessera.core.context import open_context, resolve_actor
from tessera.core.errors import InvalidInput, NotFound, PermissionDenied
from tessera.core.rights import canonical_right
from tessera.core.schemas import MessageIn, TicketCreate
from tessera.core.serialize import history
from tessera.scrips import catalog_file

Grants = list[tuple[str, str, str | None]]  # (right, principal, queue or None for global)


def _show(ctx, t):
    tickets.get_ticket(ctx, t.id)


def _create(ctx, t):
    tickets.create_ticket(ctx, TicketCreate(queue="General", subject="new"))


def _reply(ctx, t):
    tickets.correspond(ctx, t.id, MessageIn(body="hello"))


def _comment(ctx, t):
    tickets.comment(ctx, t.id, MessageIn(body="note"))


def _modify(ctx, t):
    tickets.set_fields(ctx, t.id, {"subject": "renamed"})


def _status(ctx, t):
    tickets.set_status(ctx, t.id, "open")


def _delete(ctx, t):
    tickets.set_status(ctx, t.id, "deleted")


def _take(ctx, t):
    ownership.take(ctx, t.id)


def _steal(ctx, t):
    ownership.steal(ctx, t.id)


def _give_other(ctx, t):
    ownership.give(ctx, t.id, "olga")


def _watch_self(ctx, t):
    watchers.add_watcher(ctx, t.id, "Cc", "ann")


SHOW = ("ShowTicket", "ann", "General")
CASES: list[tuple[str, Grants, Callable, str | None, bool]] = [
    # (case, grants for ann, action, ticket owner, allowed?)
    ("no rights: ticket invisible", [], _show, None, False),
    ("ShowTicket on the queue", [SHOW], _show, None, True),
    ("ShowTicket on another queue does not apply", [("ShowTicket", "ann", "Network")], _show, None, False),
    ("ShowTicket globally", [("ShowTicket", "ann", None)], _show, None, True),
    ("ShowTicket through a group", [("ShowTicket", "group:Helpers", "General")], _show, None, True),
    ("ShowTicket to Everyone", [("ShowTicket", "role:Everyone", None)], _show, None, True),
    ("ShowTicket to Privileged", [("ShowTicket", "role:Privileged", "General")], _show, None, True),
    (
        "ShowTicket to Unprivileged does not reach an agent",
        [("ShowTicket", "role:Unprivileged", None)],
        _show,
        None,
        False,
    ),
    (
        "ShowTicket to the Requestor role, ann is requestor",
        [("ShowTicket", "role:Requestor", "General")],
        _show,
        None,
        True,
    ),
    ("ShowTicket to the Cc role, ann is not Cc", [("ShowTicket", "role:Cc", "General")], _show, None, False),
    ("ShowTicket to the Owner role, ann owns it", [("ShowTicket", "role:Owner", None)], _show, "ann", True),
    ("SuperUser", [("SuperUser", "ann", None)], _steal, "olga", True),
    ("create without CreateTicket", [SHOW], _create, None, False),
    ("CreateTicket", [("CreateTicket", "ann", "General")], _create, None, True),
    ("reply without right", [SHOW], _reply, None, False),
    ("ReplyToTicket", [SHOW, ("ReplyToTicket", "ann", "General")], _reply, None, True),
    ("ModifyTicket covers replies", [SHOW, ("ModifyTicket", "ann", "General")], _reply, None, True),
    ("Requestor role may reply", [SHOW, ("ReplyToTicket", "role:Requestor", None)], _reply, None, True),
    ("reply right does not give comment", [SHOW, ("ReplyToTicket", "ann", "General")], _comment, None, False),
    ("CommentOnTicket", [SHOW, ("CommentOnTicket", "ann", "General")], _comment, None, True),
    ("modify without ModifyTicket", [SHOW, ("ReplyToTicket", "ann", "General")], _modify, None, False),
    ("ModifyTicket", [SHOW, ("ModifyTicket", "ann", "General")], _modify, None, True),
    ("status needs ModifyTicket", [SHOW], _status, None, False),
    ("status with ModifyTicket", [SHOW, ("ModifyTicket", "ann", "General")], _status, None, True),
    ("delete needs DeleteTicket", [SHOW, ("ModifyTicket", "ann", "General")], _delete, None, False),
    ("DeleteTicket", [SHOW, ("DeleteTicket", "ann", "General")], _delete, None, True),
    ("take needs OwnTicket", [SHOW, ("TakeTicket", "ann", "General")], _take, None, False),
    (
        "take with TakeTicket + OwnTicket",
        [SHOW, ("TakeTicket", "ann", "General"), ("OwnTicket", "ann", None)],
        _take,
        None,
        True,
    ),
    ("take with only OwnTicket", [SHOW, ("OwnTicket", "ann", None)], _take, None, False),
    (
        "steal needs StealTicket",
        [SHOW, ("TakeTicket", "ann", None), ("OwnTicket", "ann", None)],
        _steal,
        "olga",
        False,
    ),
    (
        "StealTicket + OwnTicket",
        [SHOW, ("StealTicket", "ann", None), ("OwnTicket", "ann", None)],
        _steal,
        "olga",
        True,
    ),
    (
        "give someone else's ticket needs ReassignTicket",
        [SHOW, ("ModifyTicket", "ann", None)],
        _give_other,
        "pete",
        False,
    ),
    (
        "ReassignTicket gives another's ticket",
        [SHOW, ("ReassignTicket", "ann", None)],
        _give_other,
        "pete",
        True,
    ),
    (
        "give an unowned ticket with ModifyTicket",
        [SHOW, ("ModifyTicket", "ann", None)],
        _give_other,
        None,
        True,
    ),
    (
        "give your own ticket with ModifyTicket",
        [SHOW, ("ModifyTicket", "ann", None), ("OwnTicket", "ann", None)],
        _give_other,
        "ann",
        True,
    ),
    ("watch yourself needs Watch", [SHOW], _watch_self, None, False),
    ("Watch", [SHOW, ("Watch", "ann", None)], _watch_self, None, True),
]


@pytest.mark.parametrize("case, granted, action, owner, allowed", CASES, ids=[c[0] for c in CASES])
def test_rights_table(desk, case, granted, action, owner, allowed) -> None:
    users.add_user(desk.root, "ann", email="ann@desk.example")
    users.add_user(desk.root, "olga", email="olga@desk.example")
    users.add_user(desk.root, "pete", email="pete@desk.example")
    users.add_group(desk.root, "Helpers")
    users.set_membership(desk.root, "Helpers", "ann", member=True)
    for who in ("olga", "pete"):
        grants.grant(desk.root, "OwnTicket", f"user:{who}")
    for right, who, queue in granted:
        grants.grant(desk.root, right, who if ":" in who else f"user:{who}", queue)
    if owner == "ann":
        grants.grant(desk.root, "OwnTicket", "user:ann")
    t = desk.ticket(requestors=["ann@desk.example"], owner=owner)
    ann = open_context(desk.session, "ann")
    if allowed:
        action(ann, t)
    else:
        with pytest.raises((PermissionDenied, NotFound)):
            action(ann, t)


def test_invisible_ticket_looks_missing(desk) -> None:
    users.add_user(desk.root, "eve", email="eve@desk.example")
    t = desk.ticket()
    with pytest.raises(NotFound, match=f"no ticket {t.display_id}"):
        tickets.get_ticket(open_context(desk.session, "eve"), t.id)


def test_disabled_user_has_no_rights_and_cannot_act(desk) -> None:
    users.add_user(desk.root, "dan", email="dan@desk.example")
    grants.grant(desk.root, "SuperUser", "user:dan")
    users.update_user(desk.root, "dan", {"disabled": "yes"})
    with pytest.raises(PermissionDenied, match="disabled"):
        open_context(desk.session, "dan")


def test_actor_resolution(desk, monkeypatch) -> None:
    users.add_user(desk.root, "zoe", email="Zoe@Desk.example")
    assert resolve_actor(desk.session, "ZOE").name == "zoe"
    assert resolve_actor(desk.session, "zoe@desk.example").name == "zoe"
    monkeypatch.setenv("TESSERA_USER", "zoe")
    assert resolve_actor(desk.session).name == "zoe"
    with pytest.raises(NotFound, match="unknown user 'nobody-here' \\(from --user\\)"):
        resolve_actor(desk.session, "nobody-here")


def test_email_unique_without_regard_to_case(desk) -> None:
    users.add_user(desk.root, "amy", email="Amy@Example.com")
    with pytest.raises(InvalidInput, match="already exists"):
        users.add_user(desk.root, "amy2", email="amy@example.COM")
    with pytest.raises(InvalidInput, match="already exists"):
        users.add_user(desk.root, "AMY")


def test_grant_and_revoke(desk) -> None:
    users.add_user(desk.root, "ray")
    assert grants.grant(desk.root, "replytoticket", "user:ray", "General") is True
    assert grants.grant(desk.root, "ReplyToTicket", "ray", "general") is False
    rows = grants.list_grants(desk.root, "General")
    assert any(
        r.right == "ReplyToTicket" and r.principal == "user:ray" and r.queue == "General" for r in rows
    )
    assert grants.revoke(desk.root, "ReplyToTicket", "user:ray", "General") is True
    assert grants.revoke(desk.root, "ReplyToTicket", "user:ray", "General") is False
    with pytest.raises(InvalidInput, match="did you mean ReplyToTicket"):
        canonical_right("ReplyToTicekt")
    with pytest.raises(InvalidInput, match="global right"):
        grants.grant(desk.root, "SuperUser", "user:ray", "General")
    with pytest.raises(NotFound, match="no role, user or group named 'nobody'"):
        grants.grant(desk.root, "ShowTicket", "nobody")


def test_only_admins_grant(desk) -> None:
    users.add_user(desk.root, "kim")
    grants.grant(desk.root, "ShowTicket", "user:kim")
    kim = open_context(desk.session, "kim")
    with pytest.raises(PermissionDenied, match="needs SuperUser"):
        grants.grant(kim, "ShowTicket", "user:kim")
    with pytest.raises(PermissionDenied, match="needs AdminQueue"):
        grants.grant(kim, "ShowTicket", "user:kim", "General")
    with pytest.raises(PermissionDenied, match="needs AdminUsers"):
        users.add_user(kim, "lee")


def test_rights_named_by_a_lifecycle_can_be_granted(desk) -> None:
    from tessera.core.lifecycles.store import apply_lifecycle
    from tessera.core.queues import update_queue

    apply_lifecycle(
        desk.root,
        """
name: gated
initial: [new]
active: [open]
inactive: [closed]
transitions: {'': [new], new: [open], open: [closed]}
rights: {'* -> closed': CloseTicket}
""",
    )
    update_queue(desk.root, "Network", {"lifecycle": "gated"})
    closer = desk.agent("cleo", "ShowTicket", "ModifyTicket")
    t = desk.ticket(queue="Network")
    tickets.set_status(closer, t.id, "open")
    with pytest.raises(PermissionDenied, match="CloseTicket"):
        tickets.set_status(closer, t.id, "closed")
    assert grants.grant(desk.root, "closeticket", "user:cleo", "Network") is True
    tickets.set_status(desk.as_("cleo"), t.id, "closed")
    with pytest.raises(InvalidInput, match="unknown right 'OpenTicket'"):
        grants.grant(desk.root, "OpenTicket", "user:cleo")


# -- queues, comments, admin rights and the roles a ticket gives ---------------------------------


def _sees_general(ctx, t) -> None:
    if "General" not in [q.name for q in queues.list_queues(ctx)]:
        raise PermissionDenied("General not listed")


def _reads_comment(ctx, t) -> None:
    comment = next(h for h in history(ctx, tickets.get_ticket(ctx, t.id)) if h["type"] == "Comment")
    if comment["message"].get("hidden"):
        raise PermissionDenied(comment["message"]["reason"])
    assert comment["message"]["content"] == "internal note"


def _edit_general(ctx, t) -> None:
    queues.update_queue(ctx, "General", {"description": "changed"})


def _create_queue(ctx, t) -> None:
    queues.create_queue(ctx, "Billing")


def _grant_on_general(ctx, t) -> None:
    grants.grant(ctx, "ShowTicket", "role:Everyone", "General")


def _grant_globally(ctx, t) -> None:
    grants.grant(ctx, "ShowTicket", "role:Everyone")


def _list_scrips(ctx, t) -> None:
    catalog_file.list_scrips(ctx)


def _add_user(ctx, t) -> None:
    users.add_user(ctx, "newbie")


def _list_people(ctx, t) -> None:
    users.list_users(ctx)
    users.list_groups(ctx)
    grants.list_grants(ctx)


ROLE_AND_ADMIN_CASES: list[tuple[str, Grants, Callable, dict[str, str], bool]] = [
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


@pytest.mark.parametrize(
    "case, granted, action, roles, allowed", ROLE_AND_ADMIN_CASES, ids=[c[0] for c in ROLE_AND_ADMIN_CASES]
)
def test_rights_of_queues_comments_admins_and_ticket_roles(
    desk, case, granted, action, roles, allowed
) -> None:
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
    as_watchers = {k.lower(): [f"{v}@desk.example"] for k, v in roles.items() if k != "Owner"}
    t = desk.ticket(owner=roles.get("Owner"), **as_watchers)
    tickets.comment(desk.root, t.id, MessageIn(body="internal note"))
    ann = open_context(desk.session, "ann")
    if allowed:
        action(ann, t)
    else:
        with pytest.raises((PermissionDenied, NotFound)):
            action(ann, t)


def test_a_requestor_reading_the_history_sees_no_bcc_recipients_or_scrip_trace(desk) -> None:
    """A one-time Bcc is hidden from the ticket's requestor: not in the transaction's data, not in
    the mail it sent; nor are the AdminCc's notices or the scrips' trace. An agent sees them all."""
    users.add_user(desk.root, "ann", email="ann@customer.example", privileged=False)
    grants.grant(desk.root, "ShowTicket", "role:Requestor")
    t = desk.ticket(requestors=["ann@customer.example"], admincc=["boss@desk.example"])
    tickets.correspond(desk.root, t.id, MessageIn(body="on it", bcc=["hidden@partner.example"]))
    ann = open_context(desk.session, "ann")
    seen = history(ann, tickets.get_ticket(ann, t.id))
    reply = next(h for h in seen if h["type"] == "Correspond")
    assert reply["message"]["content"] == "on it"
    shown = repr(seen)
    assert "hidden@partner.example" not in shown and "boss@desk.example" not in shown
    assert all(h["outgoing"] == [] and h["scrips"] == [] for h in seen)
    agent = history(desk.root, tickets.get_ticket(desk.root, t.id))
    mine = next(h for h in agent if h["type"] == "Correspond")
    assert mine["data"]["bcc"] == ["hidden@partner.example"]
    assert "hidden@partner.example" in repr(mine["outgoing"]) and mine["scrips"]

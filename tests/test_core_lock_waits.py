"""A change that waited on a ticket's row lock acts on the ticket as it is when it gets the lock.

Each test holds the lock with one session's change (just before it commits), starts the other
operation in a second session, sees it wait in `pg_locks`, then lets the first commit. Before the
fix the waiting side read the ticket joined to its queue and owner as they were before the wait:
a take crashed on the missing owner, a reply after a move said "no ticket", scrips notified the
owner from before the wait."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tessera.core import links, ownership, tickets
from tessera.core.errors import NotFound, PermissionDenied
from tessera.core.lifecycles.errors import TransitionRefused
from tessera.core.models import OutboxMessage
from tessera.core.schemas import MessageIn
from tests.support.desks import Desk
from tests.support.lockwait import while_holding
from tests.support.rights import AGENT_RIGHTS


@pytest.fixture
def committed_desk(committed_desk: Desk) -> Desk:
    """The committed desk with agents alice, bob, carol with the usual rights everywhere, and dave
    who may work in General only."""
    for name in ("alice", "bob", "carol"):
        committed_desk.agent(name, *AGENT_RIGHTS)
    committed_desk.agent("dave", *AGENT_RIGHTS, queue="General")
    return committed_desk


def test_take_after_waiting_on_a_take_names_the_new_owner(database, committed_desk) -> None:
    t = committed_desk.ticket()
    _, bob = while_holding(
        database, "alice", lambda ctx: ownership.take(ctx, t.id), "bob", lambda ctx: ownership.take(ctx, t.id)
    )
    assert isinstance(bob.error, ownership.OwnedBySomeoneElse), bob
    assert str(bob.error) == f"{t.display_id} is owned by alice; steal it instead"


def test_steal_after_waiting_on_a_give_steals_from_the_new_owner(database, committed_desk) -> None:
    t = committed_desk.ticket(owner="alice")
    _, carol = while_holding(
        database,
        "alice",
        lambda ctx: ownership.give(ctx, t.id, "bob"),
        "carol",
        lambda ctx: ownership.steal(ctx, t.id),
    )
    txn = carol.unwrap()
    assert (txn.type, txn.old_value, txn.new_value) == ("Steal", "bob", "carol")


def test_give_after_waiting_on_a_take_applies_the_reassign_rule_to_the_new_owner(
    database, committed_desk
) -> None:
    t = committed_desk.ticket()
    _, carol = while_holding(
        database,
        "alice",
        lambda ctx: ownership.take(ctx, t.id),
        "carol",
        lambda ctx: ownership.give(ctx, t.id, "bob"),
    )
    assert isinstance(carol.error, PermissionDenied), carol
    assert "it is owned by alice" in str(carol.error)


def test_set_owner_after_waiting_on_a_take_applies_the_reassign_rule(database, committed_desk) -> None:
    t = committed_desk.ticket()
    _, carol = while_holding(
        database,
        "alice",
        lambda ctx: ownership.take(ctx, t.id),
        "carol",
        lambda ctx: tickets.set_fields(ctx, t.id, {"owner": "bob", "priority": "5"}),
    )
    assert isinstance(carol.error, PermissionDenied), carol
    assert "it is owned by alice" in str(carol.error)


def test_reply_after_waiting_on_a_give_notifies_the_new_owner(database, committed_desk) -> None:
    t = committed_desk.ticket(owner="alice")
    _, carol = while_holding(
        database,
        "alice",
        lambda ctx: ownership.give(ctx, t.id, "bob"),
        "carol",
        lambda ctx: tickets.correspond(ctx, t.id, MessageIn(body="On it.")),
    )
    reply = carol.unwrap()
    with database.session() as s:
        recipients = {
            address
            for row in s.scalars(select(OutboxMessage).where(OutboxMessage.transaction_id == reply.id))
            for address in row.recipients
        }
    assert "bob@staff.example" in recipients  # On Correspond Notify Owner: the owner now
    assert "alice@staff.example" not in recipients


def test_reply_after_waiting_on_a_queue_move_finds_the_ticket(database, committed_desk) -> None:
    t = committed_desk.ticket()
    _, alice = while_holding(
        database,
        "root",
        lambda ctx: tickets.set_fields(ctx, t.id, {"queue": "Network"}),
        "alice",
        lambda ctx: tickets.correspond(ctx, t.id, MessageIn(body="Still here?")),
    )
    assert alice.unwrap().type == "Correspond"


def test_reply_after_waiting_on_a_move_out_of_sight_is_no_ticket(database, committed_desk) -> None:
    t = committed_desk.ticket()
    _, dave = while_holding(
        database,
        "root",
        lambda ctx: tickets.set_fields(ctx, t.id, {"queue": "Network"}),
        "dave",  # may see General only
        lambda ctx: tickets.correspond(ctx, t.id, MessageIn(body="Still here?")),
    )
    assert isinstance(dave.error, NotFound), dave
    assert str(dave.error) == f"no ticket {t.display_id}"


def test_comment_after_waiting_on_a_subject_change_keeps_both(database, committed_desk) -> None:
    t = committed_desk.ticket()
    _, bob = while_holding(
        database,
        "alice",
        lambda ctx: tickets.set_fields(ctx, t.id, {"subject": "Printer on fire, again"}),
        "bob",
        lambda ctx: tickets.comment(ctx, t.id, MessageIn(body="Noted.")),
    )
    bob.unwrap()
    with database.session() as s:
        from tessera.core.context import open_context

        after = tickets.get_ticket(open_context(s, "root"), t.id)
        assert (after.subject, after.version) == ("Printer on fire, again", t.version + 2)


def test_status_after_waiting_on_a_new_dependency_is_gated_by_it(database, committed_desk) -> None:
    blocked, blocker = committed_desk.ticket(subject="blocked"), committed_desk.ticket(subject="blocker")
    _, alice = while_holding(
        database,
        "root",
        lambda ctx: links.add_link(ctx, blocked.id, "DependsOn", blocker.id),
        "alice",
        lambda ctx: tickets.set_status(ctx, blocked.id, "resolved"),
    )
    assert isinstance(alice.error, TransitionRefused), alice
    assert f"depends on unresolved {blocker.display_id}" in str(alice.error)


def test_status_after_waiting_on_a_status_change_starts_from_the_new_status(database, committed_desk) -> None:
    t = committed_desk.ticket()
    _, bob = while_holding(
        database,
        "alice",
        lambda ctx: tickets.set_status(ctx, t.id, "open"),
        "bob",
        lambda ctx: tickets.set_status(ctx, t.id, "resolved"),
    )
    txn = bob.unwrap()
    assert (txn.old_value, txn.new_value) == ("open", "resolved")


def test_link_after_waiting_on_a_queue_move_finds_the_ticket(database, committed_desk) -> None:
    a, b = committed_desk.ticket(subject="a"), committed_desk.ticket(subject="b")
    _, alice = while_holding(
        database,
        "root",
        lambda ctx: tickets.set_fields(ctx, a.id, {"queue": "Network"}),
        "alice",
        lambda ctx: links.add_link(ctx, a.id, "RefersTo", b.id),
    )
    assert alice.unwrap().field == "RefersTo"


def test_merge_after_waiting_on_a_queue_move_finds_the_ticket(database, committed_desk) -> None:
    a, b = committed_desk.ticket(subject="a"), committed_desk.ticket(subject="b")
    _, alice = while_holding(
        database,
        "root",
        lambda ctx: tickets.set_fields(ctx, a.id, {"queue": "Network"}),
        "alice",
        lambda ctx: links.merge(ctx, a.id, b.id),
    )
    assert alice.unwrap().type == "Merged"


def test_reply_after_waiting_on_a_merge_lands_on_the_survivor(database, committed_desk) -> None:
    a, b = committed_desk.ticket(subject="a"), committed_desk.ticket(subject="b")
    _, bob = while_holding(
        database,
        "alice",
        lambda ctx: links.merge(ctx, a.id, b.id),
        "bob",
        lambda ctx: tickets.correspond(ctx, a.id, MessageIn(body="Any news?")),
    )
    assert bob.unwrap().ticket_id == b.id

"""The locked read on the driver cursor yields the objects the ORM's own load would."""

from __future__ import annotations

from tessera.core import tickets
from tessera.core.context import open_context
from tessera.core.fast_sql import loaded_columns
from tessera.core.models import Queue, Ticket, User


def test_columns_are_the_mapped_ones_but_not_the_deferred_search_vector() -> None:
    names = [name for name, _ in loaded_columns(Ticket)]
    assert "status" in names and "version" in names and "queue_id" in names
    assert "search_vector" not in names
    assert [name for name, _ in loaded_columns(Queue)][:2] == ["id", "name"]


def test_locked_read_refreshes_an_object_already_in_the_session(database, ticket_id) -> None:
    with database.session() as s1, database.session() as s2:
        a, b = open_context(s1, "root"), open_context(s2, "root")
        held = tickets.get_ticket(a, ticket_id)
        s1.commit()
        tickets.set_fields(b, ticket_id, {"priority": "7", "owner": "root"})
        locked = tickets.get_ticket(a, ticket_id, for_update=True)
        assert locked is held  # the same object, refreshed as populate_existing would
        assert (locked.priority, locked.version) == (7, 2)
        assert isinstance(locked.owner, User) and locked.owner.name == "root"
        assert isinstance(locked.queue, Queue) and locked.queue.name == "General"
        assert not s1.dirty and not s1.new
        s1.rollback()


def test_without_autoflush_pending_changes_give_way_to_the_row(database, ticket_id) -> None:
    with database.session() as s:
        ctx = open_context(s, "root")
        held = tickets.get_ticket(ctx, ticket_id)
        held.subject = "not saved"
        s.expire(held, ["priority"])
        with s.no_autoflush:  # else flushed first, as the ORM's own read would
            locked = tickets.get_ticket(ctx, ticket_id, for_update=True)
        assert locked is held
        assert (locked.subject, locked.priority) == ("shared", 0)
        assert not s.dirty
        s.rollback()


def test_a_ticket_first_seen_by_the_locked_read_is_persistent_and_changes_flush(database, ticket_id) -> None:
    with database.session() as s:
        ctx = open_context(s, "root")
        s.expunge_all()
        ticket = tickets.get_ticket(ctx, ticket_id, for_update=True)
        assert ticket.owner is None and ticket.queue.name == "General"
        assert ticket in s and not s.dirty
        s.rollback()
        tickets.set_status(ctx, ticket_id, "open")
        tickets.set_fields(ctx, ticket_id, {"subject": "changed"})
    with database.session() as s:
        again = tickets.get_ticket(open_context(s, "root"), ticket_id)
        assert (again.status, again.subject, again.version) == ("open", "changed", 3)


def test_the_locked_read_flushes_pending_changes_first(database, ticket_id) -> None:
    """As the ORM's own read would (autoflush): a change made but not flushed is not lost."""
    with database.session() as s:
        ctx = open_context(s, "root")
        held = tickets.get_ticket(ctx, ticket_id)
        held.priority = 42
        locked = tickets.get_ticket(ctx, ticket_id, for_update=True)
        assert locked is held and locked.priority == 42
        s.commit()
    with database.session() as s:
        assert tickets.get_ticket(open_context(s, "root"), ticket_id).priority == 42

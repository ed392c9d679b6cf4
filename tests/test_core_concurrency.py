"""Optimistic concurrency with two real database sessions: no update is ever lost."""

from __future__ import annotations

import threading

import pytest

from tessera.core import tickets
from tessera.core.context import open_context
from tessera.core.errors import Conflict
from tessera.core.schemas import MessageIn
from tessera.core.serialize import history


def test_stale_version_is_refused_and_nothing_is_lost(database, ticket_id) -> None:  # type: ignore[no-untyped-def]
    with database.session() as s1, database.session() as s2:
        a, b = open_context(s1, "root"), open_context(s2, "root")
        seen_by_a = tickets.get_ticket(a, ticket_id).version
        seen_by_b = tickets.get_ticket(b, ticket_id).version
        assert seen_by_a == seen_by_b
        s1.commit()
        s2.commit()  # both now hold only what they read, as a TUI would
        tickets.set_fields(a, ticket_id, {"priority": "7"}, expected_version=seen_by_a)
        with pytest.raises(Conflict, match="changed since you loaded it"):
            tickets.set_fields(b, ticket_id, {"subject": "from b"}, expected_version=seen_by_b)
        fresh = tickets.get_ticket(b, ticket_id)
        s2.commit()
        tickets.set_fields(b, ticket_id, {"subject": "from b"}, expected_version=fresh.version)
    with database.session() as s:
        t = tickets.get_ticket(open_context(s, "root"), ticket_id)
        assert (t.priority, t.subject) == (7, "from b")


def test_concurrent_writers_serialise_on_the_ticket(database, ticket_id) -> None:  # type: ignore[no-untyped-def]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(tag: str) -> None:
        try:
            with database.session() as s:
                ctx = open_context(s, "root")
                start.wait()
                for i in range(15):
                    tickets.correspond(ctx, ticket_id, MessageIn(body=f"{tag} {i}", time_taken=1))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(tag,)) for tag in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    with database.session() as s:
        ctx = open_context(s, "root")
        t = tickets.get_ticket(ctx, ticket_id)
        assert t.time_worked == 30  # every increment kept: the row lock serialised them
        replies = [h for h in history(ctx, t) if h["type"] == "Correspond"]
        assert len(replies) == 30
        assert t.version == 31  # created at 1, bumped once per change

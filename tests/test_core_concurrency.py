"""Optimistic concurrency with two real database sessions: no update is ever lost.

Two agents editing one ticket from the same version: the version is compared under the row lock,
so the second edit waits for the first to commit, then sees the new version and is refused."""

from __future__ import annotations

import threading

import pytest

from tessera.core import tickets
from tessera.core.context import open_context
from tessera.core.errors import Conflict
from tessera.core.schemas import MessageIn
from tessera.core.serialize import history
from tests.support.lockwait import while_holding


def test_stale_version_is_refused_and_nothing_is_lost(database, ticket_id) -> None:
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


def test_concurrent_writers_serialise_on_the_ticket(database, ticket_id) -> None:
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


@pytest.mark.parametrize("second", ["subject", "status"])
def test_simultaneous_edits_from_one_version(database, ticket_id, second) -> None:
    with database.session() as s:
        version = tickets.get_ticket(open_context(s, "root"), ticket_id).version
    change = {second: "open" if second == "status" else "B"}
    # A's change holds the row lock until B is seen waiting on it; then A commits and B goes on.
    _, b = while_holding(
        database,
        "root",
        lambda ctx: tickets.set_fields(ctx, ticket_id, {"priority": "9"}, expected_version=version),
        "root",
        lambda ctx: tickets.set_fields(ctx, ticket_id, change, expected_version=version),
    )
    assert isinstance(b.error, Conflict), b
    assert f"version {version}, now {version + 1}" in str(b.error)
    with database.session() as s:
        t = tickets.get_ticket(open_context(s, "root"), ticket_id)
        assert (t.priority, t.subject, t.status, t.version) == (9, "shared", "new", version + 1)


def test_two_creates_meeting_one_new_requestor_both_succeed_with_one_user(database, ticket_id) -> None:
    """Two alerts from one new monitor address at once: the second unit waits on the first's new
    user (the unique index), then files its ticket for that same user instead of failing."""
    from sqlalchemy import func, select, text

    from tessera.core.models import User
    from tessera.core.schemas import TicketCreate
    from tests.support.lockwait import wait_for_waiters

    address = "new-monitor@ops.example"
    outcome: list[object] = []
    with database.session() as first:
        # the first unit, mid-flight: its new user inserted, not yet committed
        first.execute(
            text("INSERT INTO users (name, email, privileged) VALUES (:a, :a, false)"), {"a": address}
        )

        def second() -> None:
            try:
                with database.session() as s:
                    ctx = open_context(s, "root")
                    data = TicketCreate(queue="General", subject="disk full", requestors=[address])
                    outcome.append(tickets.create_ticket(ctx, data).id)
            except BaseException as exc:  # surfaced below
                outcome.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        wait_for_waiters(database, gone=lambda: f"{outcome}" if outcome else None)
        first.commit()
        thread.join(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], int), outcome
    with database.session() as s:
        ctx = open_context(s, "root")
        from tessera.core.watchers import watchers_of

        people = watchers_of(ctx, [outcome[0]])[outcome[0]]
        assert [u.email for u in people["Requestor"]] == [address]
        count = s.scalar(select(func.count()).select_from(User).where(func.lower(User.email) == address))
        assert count == 1


def test_a_token_being_stamped_by_one_request_does_not_hold_up_another(database, ticket_id) -> None:
    """Requests that find a token's last use due at once (each minute on a busy integration)
    skip the row another request is stamping instead of queueing behind its lock."""
    from sqlalchemy import text

    from tessera.core import tokens

    with database.session() as s:
        secret = tokens.add_token(open_context(s, "root"), "root", label="monitor").secret
    with database.session() as stamping, database.session() as other:
        stamping.execute(text("SELECT id FROM api_tokens FOR UPDATE"))  # mid-stamp, not committed
        other.execute(text("SET lock_timeout = '5s'"))  # waiting would fail here, not hang
        who = tokens.authenticate(other, secret)
        assert who is not None and who.user.name == "root"
        stamping.rollback()
    with database.session() as s:
        assert tokens.authenticate(s, secret) is not None
        assert s.execute(text("SELECT last_used IS NOT NULL FROM api_tokens")).scalar()

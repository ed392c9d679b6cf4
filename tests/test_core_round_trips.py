"""What a unit of work costs on the wire, counted from libpq's own trace of the connection: a
status change or a create with the default scrips is three round trips (BEGIN goes with the
first read, the scrips' prefetch with the write, their trace and outbox with the COMMIT); and
what is sent along with another statement behaves as if sent alone (an error in either rolls
everything back, with the usual error; a read is used only while nothing was sent since).

Also the guard of the one use of psycopg's private API (`BoundedConnection.begin_with`): an
upgrade that changes what it relies on fails here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from tessera.core import tickets
from tessera.core.db import Database
from tessera.core.errors import InvalidInput
from tessera.core.models import OutboxMessage, ScripRun, Ticket, Transaction
from tessera.core.schemas import MessageIn, TicketCreate
from tests.support.desks import Desk
from tests.support.wire import wire


def driver(desk: Desk) -> psycopg.Connection[Any]:
    return desk.session.connection().connection.driver_connection  # type: ignore[no-any-return]


NEW = TicketCreate(
    queue="General", subject="printer", requestors=["c@example.com"], message=MessageIn(body="It jams.")
)


def test_a_status_change_and_a_create_are_three_round_trips_each(committed_desk: Desk) -> None:
    desk = committed_desk
    ctx = desk.root
    tickets.set_status(ctx, tickets.create_ticket(ctx, NEW).id, "open")  # what a process keeps
    conn = driver(desk)
    desk.session.commit()
    made: list[int] = []
    create = wire(conn, lambda: made.append(tickets.create_ticket(ctx, NEW).id))
    status = wire(conn, lambda: tickets.set_status(ctx, made[0], "resolved"))
    # create: BEGIN + the queue, people and service levels; the ticket, its watcher, transaction
    # and message with the scrips' prefetch; their trace and outbox + COMMIT.
    assert create == (5, 3)
    # status: BEGIN + the locked read; the change and the prefetch; the trace and outbox + COMMIT.
    assert status == (5, 3)
    runs = desk.session.scalar(
        select(func.count()).select_from(ScripRun).where(ScripRun.ticket_id == made[0])
    )
    mail = desk.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.ticket_id == made[0])
    )
    assert runs and mail == 2  # the autoreply and the "resolved" mail were written with the COMMITs


@pytest.fixture
def conn(database: Database) -> Iterator[psycopg.Connection[Any]]:
    """A bare connection of the engine's kind (a BoundedConnection), outside SQLAlchemy."""
    with database.engine.connect() as c:
        raw = c.connection.driver_connection
        assert raw is not None
        raw.rollback()
        yield raw
        raw.rollback()


def test_a_statement_sent_with_the_commit_that_fails_leaves_nothing_committed(conn: Any) -> None:
    conn.execute("CREATE TEMP TABLE kept (n int)")
    conn.commit()
    conn.execute("INSERT INTO kept VALUES (1)")
    conn.witness = ("kept", {"n": 1})  # (a unit that inserted a row: what deferral asks for)
    assert conn.send_with_commit("INSERT INTO kept VALUES (1 / %(zero)s)", {"zero": 0})
    with pytest.raises(psycopg.errors.DivisionByZero):
        conn.commit()
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)
    conn.execute("INSERT INTO kept VALUES (2)")
    conn.witness = ("kept", {"n": 2})
    assert conn.send_with_commit("INSERT INTO kept VALUES (%(n)s)", {"n": 3})
    conn.commit()
    assert conn.execute("SELECT array_agg(n ORDER BY n) FROM kept").fetchone() == ([2, 3],)


def test_no_statement_waits_for_a_commit_without_a_row_to_check_a_lost_commit_by(conn: Any) -> None:
    conn.execute("SELECT 1")
    conn.witness = None
    assert not conn.send_with_commit("SELECT 1", {})  # the caller runs it now instead
    conn.rollback()


def test_a_rollback_drops_the_statement_kept_for_the_commit(conn: Any) -> None:
    conn.execute("CREATE TEMP TABLE kept (n int)")
    conn.commit()
    conn.execute("INSERT INTO kept VALUES (1)")
    conn.witness = ("kept", {"n": 1})
    assert conn.send_with_commit("INSERT INTO kept VALUES (9)", {})
    conn.rollback()
    conn.execute("SELECT 1")
    conn.commit()  # nothing kept from before the rollback goes with this one
    assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)


def test_begin_goes_with_the_first_statement_and_an_error_in_it_is_the_statements(conn: Any) -> None:
    cur = conn.cursor()
    assert wire(conn, lambda: conn.begin_with(cur, "SELECT %(n)s::int + 1", {"n": 1})) == (2, 1)
    assert cur.fetchone() == (2,)
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    assert not conn.begin_with(cur, "SELECT %(n)s", {"n": 1})  # inside a transaction: not its first
    conn.rollback()
    assert not conn.begin_with(cur, "SELECT 1; SELECT 2", {})  # several statements: psycopg's way
    with pytest.raises(psycopg.errors.DivisionByZero):
        conn.begin_with(conn.cursor(), "SELECT 1 / %(zero)s", {"zero": 0})
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
    assert not conn.autocommit
    conn.rollback()
    assert conn.execute("SELECT 41 + 1").fetchone() == (42,)


def test_an_error_in_the_write_sent_with_the_commit_is_the_operations_usual_error(
    committed_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trace and outbox write fails at the COMMIT: nothing of the unit is kept, and the error
    reads as a failed write always did (a refused value, one line)."""
    from tessera.scrips import engine

    desk = committed_desk
    ctx = desk.root
    tid = tickets.create_ticket(ctx, NEW).id
    real = engine.write_results

    def bad_outcome(ctx: Any, state: Any) -> str | None:
        for run in state.runs:
            run.outcome = "x" * 10_000  # longer than the column holds
        return real(ctx, state)

    monkeypatch.setattr(engine, "write_results", bad_outcome)
    with pytest.raises(InvalidInput, match="too long"):
        tickets.set_status(ctx, tid, "resolved")
    assert desk.session.get(Ticket, tid).status == "new"  # type: ignore[union-attr]
    assert desk.session.scalar(select(func.count()).where(Transaction.ticket_id == tid)) == 1


def test_the_prefetch_read_by_a_creates_insert_is_the_prefetch_read_after_it(
    committed_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The create's INSERT reads the scrips' prefetch as the rows will be once written (its own
    watchers and message part from what it inserts): the same rows, kind for kind, as the prefetch
    statement itself returns afterwards in the same transaction, for a ticket with people in every
    role (one new to the desk), queue watchers (a person and a group) and a message."""
    from tessera.core import fast_sql, queue_watchers, users
    from tessera.scrips import engine

    desk = committed_desk
    ctx = desk.root
    desk.agent("alice")
    users.add_group(ctx, "Support")
    users.set_membership(ctx, "Support", "alice", member=True)
    queue_watchers.add_queue_watcher(ctx, "General", "AdminCc", "group:Support")
    queue_watchers.add_queue_watcher(ctx, "General", "Cc", "boss@example.com")
    compared: list[int] = []
    real = engine.EngineState.prefetch

    def compare(state: Any, ctx: Any, transactions: Any, ride: Any = None) -> None:
        assert ride is not None and ride.rows is not None and ride.current()
        again = fast_sql.driver_execute(ctx.session, fast_sql.SCRIP_PREFETCH, ride.params).fetchall()
        assert sorted(map(repr, ride.rows)) == sorted(map(repr, again))
        assert {kind for kind, _ in again} >= {"d", "w", "v", "a"}
        compared.append(len(again))
        assert not ride.current()  # (a statement was sent since: the engine reads again itself)
        real(state, ctx, transactions, ride)

    monkeypatch.setattr(engine.EngineState, "prefetch", compare)
    data = TicketCreate(
        queue="General",
        subject="printer",
        requestors=["c@example.com", "new.person@example.com"],
        cc=["alice@staff.example"],
        admincc=["boss@example.com"],
        message=MessageIn(body="It jams."),
    )
    tid = tickets.create_ticket(ctx, data).id
    assert compared
    assert desk.session.scalar(select(func.count()).where(ScripRun.ticket_id == tid))


def test_two_statements_in_one_round_trip_fail_as_one_statement_does(committed_desk: Desk) -> None:
    """`fast_sql.driver_execute_then` (the mail record with the scrips' prefetch): both answers
    come back from one round trip; an error in the second is SQLAlchemy's, as `driver_execute`'s
    is, and leaves the first's write uncommitted."""
    from sqlalchemy.exc import DataError

    from tessera.core import fast_sql

    desk = committed_desk
    tid = tickets.create_ticket(desk.root, NEW).id
    session = desk.session
    conn = driver(desk)
    answers: list[Any] = []
    update = "UPDATE tickets SET priority = %(p)s WHERE id = %(id)s RETURNING priority"

    def both() -> None:
        first, second = fast_sql.driver_execute_then(
            session, update, {"p": 5, "id": tid}, "SELECT %(n)s::int + 1", {"n": 41}
        )
        answers.extend([first.fetchone(), second.fetchone()])

    assert session.scalar(select(Ticket.priority).where(Ticket.id == tid)) == 0  # (its BEGIN: sent)
    _, trips = wire(conn, both)
    assert answers == [(5,), (42,)] and trips == 1
    session.rollback()
    with pytest.raises(DataError, match="division by zero"):
        fast_sql.driver_execute_then(session, update, {"p": 9, "id": tid}, "SELECT 1 / %(z)s", {"z": 0})
    session.rollback()
    assert session.scalar(select(Ticket.priority).where(Ticket.id == tid)) == 0


def test_a_scrips_status_change_is_one_statement_with_its_scrip_noted(committed_desk: Desk) -> None:
    """A reply on a resolved ticket: the default scrip reopens it in a savepoint of its own; the
    change (the ticket's UPDATE and its transaction, which names the scrip) is one statement, as a
    unit's own one change is, not a flush's two and an UPDATE of the transaction's data after."""
    desk = committed_desk
    ctx = desk.root
    tid = tickets.create_ticket(ctx, NEW).id
    tickets.set_status(ctx, tid, "resolved")
    conn = driver(desk)
    desk.session.commit()
    statements, trips = wire(conn, lambda: tickets.correspond(ctx, tid, MessageIn(body="Again.")))
    opened = desk.session.scalars(
        select(Transaction).where(Transaction.ticket_id == tid, Transaction.type == "Status")
    ).all()[-1]
    assert (opened.old_value, opened.new_value) == ("resolved", "open")
    assert opened.data["scrip"] and opened.data["cause"]  # which scrip, answering which transaction
    # BEGIN + the lock; the replier's roles (an agent's reply sets the ticket's Told); the reply
    # (the ticket's update with its Told, its transaction and the message: one statement,
    # `fast_sql.write_message`); the prefetch; SAVEPOINT; the reopening; RELEASE; the trace and
    # outbox + COMMIT. (Before: the reply three round trips and Told one more, the reopening's
    # INSERT and UPDATE apart, then an UPDATE of its data: 13.)
    assert trips == 8, (statements, trips)


def test_a_reply_with_files_is_written_in_one_statement(committed_desk: Desk) -> None:
    from tessera.core.models import Attachment
    from tessera.core.schemas import AttachmentIn

    desk = committed_desk
    ctx = desk.root
    tid = tickets.create_ticket(ctx, NEW).id
    tickets.set_status(ctx, tid, "open")
    conn = driver(desk)
    desk.session.commit()
    files = [
        AttachmentIn(filename="a.log", content_type="text/plain", data=b"boot"),
        AttachmentIn(filename="b.png", content_type="image/png", data=b"\x89PNG"),
    ]
    made: list[Transaction] = []
    _, trips = wire(
        conn, lambda: made.append(tickets.correspond(ctx, tid, MessageIn(body="Logs.", attachments=files)))
    )
    rows = desk.session.execute(
        select(Attachment.id, Attachment.parent_id, Attachment.content_type, Attachment.filename)
        .where(Attachment.transaction_id == made[0].id)
        .order_by(Attachment.id)
    ).all()
    root = rows[0].id
    assert [(r.parent_id, r.content_type, r.filename) for r in rows] == [
        (None, "multipart/mixed", None),
        (root, "text/plain", None),
        (root, "text/plain", "a.log"),
        (root, "image/png", "b.png"),
    ]
    # BEGIN + the lock; the replier's roles; the ticket's update, the transaction and the four
    # parts; the prefetch; the trace and outbox + COMMIT. (The ORM's flushes: 8.)
    assert trips == 5

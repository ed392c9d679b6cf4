"""The one way the TUI runs database work (`tessera.tui.backend.Backend`): a function of a Context,
in a worker thread as the user; `call` raises a refusal, `ask` reports it (a one-line notice, the
lost-database banner) and gives None."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from tessera.core.context import Context
from tessera.core.db import Database, make_engine
from tessera.core.errors import DatabaseUnavailable, NotFound
from tessera.tui import ticket_ops
from tessera.tui.backend import Backend


class Reports:
    """A Reporter that writes down what it was told."""

    def __init__(self) -> None:
        self.refusals: list[str] = []
        self.states: list[str | None] = []
        self.gone = False

    def refused(self, message: str) -> None:
        self.refusals.append(message)

    def reachable(self, problem: str | None) -> None:
        self.states.append(problem)

    def closed(self) -> bool:
        return self.gone


def unreachable_database() -> Database:
    url = make_url("postgresql+psycopg://nobody@127.0.0.1:9/nowhere?connect_timeout=2")
    engine = make_engine(url)
    return Database(url=url, engine=engine, sessions=sessionmaker(engine), embedded=False, location="nowhere")


def test_call_runs_a_function_of_a_context_as_the_user_in_another_thread(
    database: Database, tui_desk
) -> None:
    backend = Backend(database, "alice")
    seen: dict[str, object] = {}

    def who(ctx: Context, label: str) -> str:
        seen["thread"] = threading.get_ident()
        return f"{label} {ctx.actor.name}"

    assert asyncio.run(backend.call(who, "acting as")) == "acting as alice"
    assert seen["thread"] != threading.get_ident()


def test_call_raises_a_refusal_for_the_pane_to_show(database: Database, tui_desk) -> None:
    backend = Backend(database, "alice", reporter=Reports())
    with pytest.raises(NotFound):
        asyncio.run(backend.call(ticket_ops.view, 999_999))
    assert backend.reporter.refusals == [] and backend.reporter.states == []


def test_ask_reports_a_refusal_as_one_line_and_gives_none(database: Database, tui_desk) -> None:
    reports = Reports()
    backend = Backend(database, "alice", reporter=reports)
    assert asyncio.run(backend.ask(ticket_ops.view, 999_999)) is None
    assert len(reports.refusals) == 1 and "999999" in reports.refusals[0]
    assert reports.states == []


def test_ask_reports_a_lost_database_then_its_return(database: Database, tui_desk) -> None:
    reports = Reports()
    lost = unreachable_database()
    backend = Backend(lost, "alice", reporter=reports)
    try:
        assert asyncio.run(backend.ask(ticket_ops.queues)) is None
        assert len(reports.states) == 1 and reports.states[0] and reports.refusals == []
        backend.db = database
        names = [q.name for q in asyncio.run(backend.ask(ticket_ops.queues)) or []]
        assert names == ["General", "Network"] and reports.states[-1] is None
    finally:
        lost.engine.dispose()


def test_ask_drops_an_answer_that_comes_after_the_screen_is_gone(database: Database, tui_desk) -> None:
    reports = Reports()
    reports.gone = True
    backend = Backend(database, "alice", reporter=reports)
    assert asyncio.run(backend.ask(ticket_ops.queues)) is None
    assert reports.states == [] and reports.refusals == []


def test_without_a_reporter_ask_lets_the_error_through(database: Database, tui_desk) -> None:
    lost = unreachable_database()
    try:
        with pytest.raises(DatabaseUnavailable):
            asyncio.run(Backend(lost, "alice").ask(ticket_ops.queues))
    finally:
        lost.engine.dispose()


def test_the_user_and_rights_are_kept_between_calls_while_rights_changes_are_heard(
    database: Database, tui_desk
) -> None:
    """Each call used to read the user and their grants again; while the listener hears the
    rights channel they are kept, and any rights change (a grant, a revoke, the user's row) makes
    the next call read them afresh. Not listening, every call reads them."""
    from sqlalchemy import event

    from tessera.core import grants, users
    from tessera.core.context import open_context
    from tests.support.wait import wait_until

    reads: list[str] = []

    def count(conn, cursor, statement, *rest) -> None:  # type: ignore[no-untyped-def]
        if "FROM grants" in statement or "lower(users.name) =" in statement:
            reads.append(statement)

    def superuser(ctx: Context) -> bool:
        return ctx.can("SuperUser")

    def as_root(change) -> None:  # type: ignore[no-untyped-def]
        with database.session() as session:
            change(open_context(session, "root"))

    event.listen(database.engine, "before_cursor_execute", count)
    backend = Backend(database, "alice")
    stop, heard = threading.Event(), threading.Event()
    listener = threading.Thread(
        target=backend.listen, args=(lambda ids: None, stop, lambda p: heard.set() if p is None else None)
    )
    listener.start()
    try:
        assert heard.wait(10)
        queues = backend.run(ticket_ops.queues)
        reads.clear()
        for _ in range(3):
            assert backend.run(ticket_ops.queues) == queues and not backend.run(superuser)
        assert reads == []  # neither the user nor the grants read again
        as_root(lambda root: grants.grant(root, "SuperUser", "user:alice"))
        wait_until(lambda: backend.run(superuser), what="the new grant to count")
        as_root(lambda root: grants.revoke(root, "SuperUser", "user:alice"))
        wait_until(lambda: not backend.run(superuser), what="the revoke to count")
        as_root(lambda root: users.update_user(root, "alice", {"disabled": "yes"}))
        wait_until(lambda: _refused(backend), what="the disabled user to be refused")
        as_root(lambda root: users.update_user(root, "alice", {"disabled": "no"}))
    finally:
        stop.set()
        listener.join(10)
    reads.clear()
    backend.run(ticket_ops.queues)
    backend.run(ticket_ops.queues)
    assert len([r for r in reads if "FROM grants" in r]) == 2  # not listening: read each time
    event.remove(database.engine, "before_cursor_execute", count)


def _refused(backend: Backend) -> bool:
    from tessera.core.errors import PermissionDenied

    try:
        backend.run(ticket_ops.queues)
    except PermissionDenied:
        return True
    return False


def test_a_status_change_from_the_tui_is_three_round_trips(database: Database, tui_desk) -> None:
    """BEGIN with the locked read (the queue's lifecycle rides on it), the write with what the
    scrips need, the trace and outbox with the COMMIT: the user and rights are kept (the listener
    hears rights changes). Counted from libpq's trace of the connection the change checks out."""
    import tempfile

    from sqlalchemy import event

    from tests.support.wire import count_trace

    backend = Backend(database, "alice")
    stop, heard = threading.Event(), threading.Event()
    listener = threading.Thread(
        target=backend.listen, args=(lambda ids: None, stop, lambda p: heard.set() if p is None else None)
    )
    listener.start()
    traced = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in the finally below, as the listener is)

    def on_checkout(dbapi_conn, record, proxy):  # type: ignore[no-untyped-def]
        dbapi_conn.pgconn.trace(traced.fileno())

    def on_checkin(dbapi_conn, record):  # type: ignore[no-untyped-def]
        dbapi_conn.pgconn.untrace()

    try:
        assert heard.wait(10)
        vpn = tui_desk["vpn"]
        backend.run(ticket_ops.queues)  # the user and rights are read once
        event.listen(database.engine, "checkout", on_checkout)
        event.listen(database.engine, "checkin", on_checkin)
        for status in ("stalled", "open"):
            traced.seek(0)
            traced.truncate()
            assert backend.run(ticket_ops.set_status, [vpn], status).done == [vpn]
            traced.seek(0)
            assert count_trace(traced) == (5, 3)
    finally:
        event.remove(database.engine, "checkout", on_checkout)
        event.remove(database.engine, "checkin", on_checkin)
        traced.close()
        stop.set()
        listener.join(10)

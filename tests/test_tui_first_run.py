"""Issue 18 point 6: a first run with no demo is usable. A new desk ships RT's General queue; the
empty desk says what to do next (a ticket, a queue, mail in, the demo); the wait before the first
page says which step of opening the desk is under way and for how long."""

from __future__ import annotations

import threading

from textual.widgets import Static

from tessera.core import queues
from tessera.core.bootstrap import bootstrap, bootstrap_database
from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.tui.main_screen import MainScreen
from tessera.tui.screens import ConfirmScreen
from tests.support.tui import key, run_async, settle, until
from tests.test_tui_app import SIZE, make_app


def note(screen: MainScreen) -> str:
    empty = screen.queue_pane.query_one("#empty", Static)
    return str(empty.render()) if empty.display else ""


def test_a_new_desk_ships_the_general_queue_once(database: Database) -> None:
    first = bootstrap_database(database)  # the first run: your login is the superuser, and General
    assert first is not None
    with database.session() as session:
        ctx = open_context(session, first.name)
        general = queues.get_queue(ctx, "general")  # found case-insensitively, as RT
        assert (general.name, general.description, general.lifecycle) == (
            "General",
            "The default queue",
            "default",
        )
        assert [q.name for q in queues.list_queues(ctx)] == ["General"]
        queues.update_queue(ctx, "General", {"name": "Helpdesk"})
    assert bootstrap_database(database) is None  # not a new desk: nothing made again
    with database.session() as session:
        assert [q.name for q in queues.list_queues(open_context(session, first.name))] == ["Helpdesk"]


@run_async
async def test_the_empty_desk_says_what_to_do_next(database: Database, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TESSERA_CONFIG_DIR", str(tmp_path / "config"))
    with database.session() as session:
        bootstrap(session, "root", general=True)
    app = make_app(database, user="root", demo_tickets=30)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main
        await screen.ready.wait()
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))  # the demo is offered
        await pilot.press(key("confirm.no"))
        await settle(pilot)
        assert screen.queue_pane.queue is not None and screen.queue_pane.queue.name == "General"
        said = note(screen)
        assert said.startswith("This desk has no tickets yet. What to do next:")
        assert "a new ticket in General" in said
        assert "n makes a queue (or tessera queue create NAME)" in said
        assert "tessera right grant CreateTicket role:Everyone --queue General" in said
        assert "tessera mailgate --queue General" in said and "tessera demo" in said
        assert "This queue has no tickets." not in said


@run_async
async def test_an_agent_on_a_desk_without_queues_is_told_how_to_get_one(
    database: Database, tmp_path, monkeypatch
) -> None:
    from tessera.core import users

    monkeypatch.setenv("TESSERA_CONFIG_DIR", str(tmp_path / "config"))
    with database.session() as session:
        bootstrap(session, "root")
        users.add_user(open_context(session, "root"), "alice", email="alice@desk.example", privileged=True)
    app = make_app(database, user="alice")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main
        await screen.ready.wait()
        await settle(pilot)
        assert screen.queue_pane.queue is None
        assert "n makes a queue" in note(screen) and "tessera demo" in note(screen)


@run_async
async def test_the_wait_for_the_desk_shows_the_step_and_the_seconds(
    database: Database, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("TESSERA_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path / "data"))  # no cluster there: a first run
    monkeypatch.delenv("TESSERA_DATABASE_URL", raising=False)
    with database.session() as session:
        bootstrap(session, "root", general=True)
    opened = threading.Event()

    def slow_database() -> Database:
        opened.wait(30)  # the desk opens when the test says so
        return database

    from tessera.tui.app import TesseraApp
    from tests.support.tui import FIXED_NOW

    app = TesseraApp(slow_database, user="root", clock=lambda: FIXED_NOW, demo_tickets=30)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main
        await until(pilot, lambda: "Opening the desk: first run, creating the database… 1 s" in note(screen))
        (tmp_path / "data" / "pgdata").mkdir(parents=True)
        (tmp_path / "data" / "pgdata" / "PG_VERSION").write_text("16\n")
        await until(pilot, lambda: "Opening the desk: starting PostgreSQL…" in note(screen))
        (tmp_path / "data" / "pgdata" / "postmaster.pid").write_text("1\n")
        await until(pilot, lambda: "Opening the desk: schema and desk set-up…" in note(screen))
        assert not screen.ready.is_set()
        opened.set()
        await screen.ready.wait()
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Opening the desk" not in note(screen)


@run_async
async def test_an_empty_queue_on_a_desk_with_tickets_says_n_makes_one(
    database: Database, tmp_path, monkeypatch
) -> None:
    """A queue with no tickets said only that; the key that fills it was left to the help."""
    from tessera.core import tickets
    from tessera.core.schemas import TicketCreate

    monkeypatch.setenv("TESSERA_CONFIG_DIR", str(tmp_path / "config"))
    with database.session() as session:
        bootstrap(session, "root", general=True)
        ctx = open_context(session, "root")
        queues.create_queue(ctx, "Billing")
        tickets.create_ticket(ctx, TicketCreate(queue="General", subject="Printer on fire"))
        session.commit()
    app = make_app(database, user="root")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main
        await screen.ready.wait()
        await settle(pilot)
        assert screen.queue_pane.queue is not None and screen.queue_pane.queue.name == "Billing"
        assert note(screen) == "This queue has no tickets: n makes a new one."
        await pilot.press("n")
        await until(pilot, lambda: app.screen is not screen)  # the key the note names opens the form

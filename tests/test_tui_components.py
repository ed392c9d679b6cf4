"""The main screen's components on their own: each hosted alone in a small app on a real desk,
given a Backend, driven by keys or calls, and judged by the messages it posts and the state it keeps
(the screen that carries those messages is tested in test_tui_app.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual import on
from textual.app import App, ComposeResult
from textual.message import Message
from textual.widget import Widget

from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.core.tickets import get_ticket, set_status
from tessera.tui import ticket_ops
from tessera.tui.backend import Backend
from tessera.tui.bars import OfflineBanner
from tessera.tui.live_updates import LiveUpdates
from tessera.tui.queue_pane import QueuePane
from tessera.tui.queue_view import PREF_VIEW, QueueView
from tessera.tui.screens import PickerScreen
from tessera.tui.ticket_pane import TicketPane
from tessera.tui.ticket_table import TicketTable
from tessera.tui.verbs import Targets, TicketVerbs
from tests.support.live import listening
from tests.support.tui import FIXED_NOW, run_async, settle, until

SIZE = (140, 40)


class Host(App[None]):
    """One component, alone; every message it posts that reaches the app is written down."""

    def __init__(self, make: Callable[[], Widget]) -> None:
        super().__init__()
        self.make = make
        self.heard: list[Message] = []

    def compose(self) -> ComposeResult:
        yield self.make()

    @on(TicketTable.Opened)
    @on(QueuePane.Changed)
    @on(TicketPane.Shown)
    @on(TicketVerbs.Applied)
    @on(LiveUpdates.Changed)
    @on(OfflineBanner.Retry)
    def _heard(self, message: Message) -> None:
        self.heard.append(message)

    def messages(self, kind: type[Any]) -> list[Any]:
        return [m for m in self.heard if isinstance(m, kind)]


def saved_view(database: Database, user: str) -> dict[str, Any]:
    view = Backend(database, user).run(ticket_ops.startup).preferences.get(PREF_VIEW)
    return view if isinstance(view, dict) else {}


@run_async
async def test_queue_pane_posts_opened_for_a_row_and_saves_a_new_sort(database: Database, tui_desk) -> None:
    backend = Backend(database, "alice")
    queues = backend.run(ticket_ops.queues)
    app = Host(lambda: QueuePane(backend, lambda: FIXED_NOW))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(QueuePane)
        pane.start(queues, QueueView())
        await until(pilot, lambda: len(pane.rows) == 4)
        assert pane.queue is not None and pane.queue.name == "General"
        assert app.messages(QueuePane.Changed)  # the rows it shows are news for the top bar
        pane.table.focus()
        first = pane.table.highlighted_id
        await pilot.press("enter")
        await until(pilot, lambda: bool(app.messages(TicketTable.Opened)))
        assert [m.ticket_id for m in app.messages(TicketTable.Opened)] == [first]
        assert saved_view(database, "alice") == {}  # showing the saved view saves nothing
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"subject", "enter")
        await settle(pilot)
        assert pane.view.sort == "subject" and not pane.view.descending
        subjects = [row.subject for row in pane.rows.values()]
        assert subjects == sorted(subjects, key=str.lower)
        await until(pilot, lambda: saved_view(database, "alice").get("sort") == "subject")
        assert saved_view(database, "alice")["queue"] == "General"


@run_async
async def test_queue_pane_marks_and_escape_clears_them(database: Database, tui_desk) -> None:
    backend = Backend(database, "alice")
    queues = backend.run(ticket_ops.queues)
    app = Host(lambda: QueuePane(backend, lambda: FIXED_NOW))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(QueuePane)
        pane.start(queues, QueueView())
        await until(pilot, lambda: len(pane.rows) == 4)
        pane.table.focus()
        heard = len(app.messages(QueuePane.Changed))
        await pilot.press("x", "x")
        await pilot.pause()
        assert len(pane.marked) == 2 and len(app.messages(QueuePane.Changed)) >= heard + 2
        pane.cancel()
        assert not pane.marked


@run_async
async def test_ticket_pane_loads_a_ticket_and_posts_shown(database: Database, tui_desk) -> None:
    printer = tui_desk["printer"]
    app = Host(lambda: TicketPane(Backend(database, "alice")))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(TicketPane)
        pane.open_ticket(printer, focus=True)
        await until(pilot, lambda: bool(app.messages(TicketPane.Shown)))
        assert [m.ticket_id for m in app.messages(TicketPane.Shown)] == [printer]
        assert pane.current_id == printer and app.focused is pane.history
        history = pane.history
        assert "Internal: it is really on fire" in history.plain
        pane.cycle_history_filter()  # correspondence only: the comment goes
        assert pane.history_mode == "messages"
        assert "Internal: it is really on fire" not in history.plain
        assert "correspondence only" in str(pane.history.border_title)
    # Loading it marked it seen for alice.
    with database.session() as session:
        from tessera.core import listing

        row = listing.list_tickets(open_context(session, "alice"), "General").rows
        assert [r.unread for r in row if r.id == printer] == [False]


@run_async
async def test_verbs_apply_a_change_and_post_what_it_did(database: Database, tui_desk) -> None:
    printer, vpn = tui_desk["printer"], tui_desk["vpn"]
    app = Host(lambda: TicketVerbs(Backend(database, "alice")))
    async with app.run_test(size=SIZE) as pilot:
        verbs = app.query_one(TicketVerbs)
        verbs.take(Targets([printer], names={printer: "TKT-0001"}))
        await until(pilot, lambda: bool(app.messages(TicketVerbs.Applied)))
        applied = app.messages(TicketVerbs.Applied)[0]
        assert applied.ids == [printer] and applied.done == [printer]
        verbs.take(Targets([]))  # nothing highlighted, nothing marked: nothing done, and said so
        await pilot.pause()
        assert len(app.messages(TicketVerbs.Applied)) == 1
        assert any("No ticket" in n.message for n in app._notifications)
    with database.session() as session:
        root = open_context(session, "root")
        assert get_ticket(root, printer).owner.name == "alice"
        assert get_ticket(root, vpn).owner is None


@run_async
async def test_live_updates_tell_of_a_change_made_elsewhere(database: Database, tui_desk) -> None:
    vpn = tui_desk["vpn"]
    app = Host(lambda: LiveUpdates(Backend(database, "alice"), poll_seconds=3600))
    async with app.run_test(size=SIZE) as pilot:
        live = app.query_one(LiveUpdates)
        live.start(listen=True)
        await until(pilot, lambda: listening(database), timeout=10)  # the listener is connected
        with database.session() as session:
            set_status(open_context(session, "bob"), vpn, "open")
        await until(pilot, lambda: bool(app.messages(LiveUpdates.Changed)), timeout=2)
        changed = app.messages(LiveUpdates.Changed)
        assert changed and changed[0].ids == {vpn}


@run_async
async def test_live_updates_skip_the_apps_own_changes_and_poll_only_while_not_listening(
    database: Database, tui_desk
) -> None:
    vpn, printer = tui_desk["vpn"], tui_desk["printer"]
    backend = Backend(database, "alice")
    app = Host(lambda: LiveUpdates(backend, poll_seconds=3600))
    async with app.run_test(size=SIZE) as pilot:
        live = app.query_one(LiveUpdates)
        assert not live.listening
        live._poll_due()  # not listening yet: the poll stands in
        await until(pilot, lambda: [m.ids for m in app.messages(LiveUpdates.Changed)] == [None])
        app.heard.clear()
        live.start(listen=True)
        await until(pilot, lambda: listening(database) and live.listening, timeout=10)
        live._poll_due()  # listening: no poll
        # The app's own change (through its backend) is not told back; someone else's is.
        done = await asyncio.to_thread(backend.run, ticket_ops.comment, [printer], "Checked the toner.")
        assert done.done == [printer]
        with database.session() as session:
            set_status(open_context(session, "bob"), vpn, "open")
        await until(pilot, lambda: bool(app.messages(LiveUpdates.Changed)), timeout=2)
        assert [m.ids for m in app.messages(LiveUpdates.Changed)] == [{vpn}]
        live._listen_state("connection lost")  # as the listener reports a lost database
        live._poll_due()
        await until(pilot, lambda: [m.ids for m in app.messages(LiveUpdates.Changed)] == [{vpn}, None])


@run_async
async def test_offline_banner_asks_for_retries_until_the_database_answers(database: Database) -> None:
    app = Host(lambda: OfflineBanner(id="banner", retry_seconds=0.05))
    async with app.run_test(size=SIZE) as pilot:
        banner = app.query_one(OfflineBanner)
        assert not banner.display
        banner.problem = "database error: connection refused"
        await pilot.pause()
        assert banner.display and "connection refused" in str(banner.render())
        await until(pilot, lambda: len(app.messages(OfflineBanner.Retry)) >= 2)
        banner.problem = None
        await pilot.pause()
        assert not banner.display
        asked = len(app.messages(OfflineBanner.Retry))
        await pilot.pause(0.2)
        assert len(app.messages(OfflineBanner.Retry)) == asked  # no more retries once it answers
        assert any(n.message == "Database reachable again" for n in app._notifications)

"""Pilot tests of the TUI's main flows against a real database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest
from textual.widgets import DataTable, Input, Label, Static

from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.core.serialize import history, ticket_json
from tessera.core.tickets import get_ticket
from tessera.tui.app import TesseraApp
from tessera.tui.history_view import DetailPane
from tessera.tui.main_screen import MainScreen
from tessera.tui.review import ReviewScreen
from tessera.tui.screens import ComposeScreen, ConfirmScreen, EditScreen, HelpScreen, PickerScreen
from tessera.tui.themes import DARK, LIGHT
from tests.support import pg
from tests.support.desks import HOSTILE_SUBJECT
from tests.support.live import listening
from tests.support.lockwait import wait_for_waiters
from tests.support.tui import FIXED_NOW, key, run_async, settle, type_text, until

SIZE = (140, 40)


def make_app(database: Database, user: str = "alice", **kw) -> TesseraApp:  # type: ignore[no-untyped-def]
    return TesseraApp(lambda: database, user=user, clock=lambda: FIXED_NOW, **kw)


async def started(pilot) -> MainScreen:  # type: ignore[no-untyped-def]
    screen = pilot.app.main
    await screen.ready.wait()
    await settle(pilot)
    return screen


def ticket_state(database: Database, ticket_id: int, user: str = "root") -> dict:
    with database.session() as session:
        ctx = open_context(session, user)
        ticket = get_ticket(ctx, ticket_id)
        data = ticket_json(ctx, ticket)
        data["history"] = history(ctx, ticket)
        return data


def cell_text(screen: MainScreen, ticket_id: int, column: str) -> str:
    return screen.queue_pane.table.get_cell(str(ticket_id), column).plain


async def opened(pilot, ticket_id: int, action: str, kind: type) -> MainScreen:  # type: ignore[no-untyped-def]
    """The app started with `ticket_id` highlighted, `action`'s key pressed and its `kind` of
    screen up (a form, the composer): the start of most ticket tests."""
    screen = await started(pilot)
    await highlight(pilot, screen, ticket_id)
    await pilot.press(key(action))
    await until(pilot, lambda: isinstance(pilot.app.screen, kind))
    return screen


async def highlight(pilot, screen: MainScreen, ticket_id: int) -> None:  # type: ignore[no-untyped-def]
    screen.queue_pane.table.move_cursor(row=list(screen.queue_pane.rows).index(ticket_id))
    await pilot.pause()


async def open_highlighted(pilot, screen: MainScreen, ticket_id: int) -> None:  # type: ignore[no-untyped-def]
    """Press enter and wait until the ticket shows (the load is a worker: settle alone can race it)."""
    await pilot.press(key("queue.open"))
    await until(pilot, lambda: screen.ticket_pane.current_id == ticket_id)
    await settle(pilot)


@run_async
async def test_opens_queue_with_every_column(database: Database, tui_desk: dict[str, int]) -> None:
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        assert screen.queue_pane.queue is not None and screen.queue_pane.queue.name == "General"
        assert set(screen.queue_pane.rows) == set(tui_desk.values())
        assert [str(c.label) for c in screen.queue_pane.table.columns.values()] == [
            "  ",
            "ID",
            "Subject",
            "Status",
            "Owner",
            "Pri",
            "Due",
            "Age",
            "Updated",
            "Requestor",
        ]
        printer = tui_desk["printer"]
        assert cell_text(screen, printer, "subject") == "Printer on fire"
        assert cell_text(screen, printer, "status") == "new"
        assert cell_text(screen, printer, "requestor") == "printer@customer.example"
        assert cell_text(screen, printer, "owner") == "-"
        # root wrote every ticket, so they are all unread for alice
        assert all(cell_text(screen, t, "flag").strip() == "●" for t in tui_desk.values())
        assert isinstance(app.screen, MainScreen)
        assert app.theme == LIGHT


@run_async
async def test_open_ticket_shows_detail_history_and_marks_seen(database: Database, tui_desk) -> None:
    printer = tui_desk["printer"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, printer)
        await open_highlighted(pilot, screen, printer)
        detail = screen.query_one("#detail", DetailPane).plain
        assert "Printer on fire" in detail and "printer@customer.example" in detail
        assert "Open It (→open)" in detail
        hist = screen.ticket_pane.history.plain
        assert "It is on fire." in hist and "Have you tried water?" in hist
        assert "Internal: it is really on fire" in hist and "steps.txt" in hist
        assert app.focused is screen.query_one("#history")
        assert cell_text(screen, printer, "flag").strip() == ""
        await pilot.press(key("back"))
        assert app.focused is screen.queue_pane.table
    # The seen marker is in the database: a new session shows it read, the others still unread.
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        assert cell_text(screen, printer, "flag").strip() == ""
        assert cell_text(screen, tui_desk["vpn"], "flag").strip() == "●"


def seen_by(database: Database, user: str, ticket_id: int) -> bool:
    with psycopg.connect(pg.conninfo(database.url)) as conn:
        row = conn.execute(
            "SELECT 1 FROM ticket_seen s JOIN users u ON u.id = s.user_id"
            " WHERE u.name = %s AND s.ticket_id = %s",
            (user, ticket_id),
        ).fetchone()
    return row is not None


@run_async
async def test_enter_shows_the_ticket_read_ahead_at_once_then_its_own_read(
    database: Database, tui_desk: dict[str, int]
) -> None:
    printer, vpn = tui_desk["printer"], tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        pane = screen.ticket_pane
        await highlight(pilot, screen, printer)
        await until(pilot, lambda: printer in pane._ahead)  # the cursor rests on it: read ahead
        assert not seen_by(database, "alice", printer)  # reading ahead is not reading
        # alice's own read of it (which marks it seen) waits on a lock: the panes show it meanwhile.
        with psycopg.connect(pg.conninfo(database.url)) as blocker:
            blocker.execute(
                "INSERT INTO ticket_seen (user_id, ticket_id, seen_at)"
                " SELECT id, %s, now() FROM users WHERE name = 'alice'",
                (printer,),
            )
            await pilot.press(key("queue.open"))
            await asyncio.to_thread(wait_for_waiters, database)
            await pilot.pause()
            assert pane.current_id == printer and app.focused is pane.history
            assert "Printer on fire" in screen.query_one("#detail", DetailPane).plain
            assert "It is on fire." in screen.ticket_pane.history.plain
            blocker.rollback()
        await settle(pilot)
        assert seen_by(database, "alice", printer)
        # A change whose notice never came (made under the app's own origin, which its listener
        # skips): the ticket read ahead shows first, its own read replaces it.
        await pilot.press(key("back"))
        await highlight(pilot, screen, vpn)
        await until(pilot, lambda: vpn in pane._ahead)

        def rename(ctx) -> None:  # type: ignore[no-untyped-def]
            from tessera.core.tickets import set_fields

            set_fields(ctx, vpn, {"subject": "VPN down again"})

        await asyncio.to_thread(app.backend.run, rename)
        await open_highlighted(pilot, screen, vpn)
        await until(pilot, lambda: "VPN down again" in screen.query_one("#detail", DetailPane).plain)


@run_async
async def test_opening_a_ticket_read_ahead_and_going_back_each_draw_one_frame(
    database: Database, tui_desk: dict[str, int]
) -> None:
    """enter (the fields, the history, the focus moving from the list, the row's unread mark), J
    (the cursor too) and q (the focus back) change several widgets: each key's changes are drawn
    in one frame, not the panes first and the borders a frame later (a frame on a loaded machine
    is tens of milliseconds). (The first ticket opened is not counted: the detail pane's scrollbar
    comes then, and Textual lays the pane out again in a frame of its own.)"""
    printer, vpn = tui_desk["printer"], tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        pane = screen.ticket_pane
        frames: list[list[str]] = []
        drawing = app._display

        def counted(on, update) -> None:  # type: ignore[no-untyped-def]
            frames.append(sorted(str(w.id or type(w).__name__) for w in on._dirty_widgets))
            drawing(on, update)

        async def drawn_by(*keys: str) -> list[list[str]]:
            await settle(pilot)
            frames.clear()
            await pilot.press(*keys)
            await settle(pilot)  # (and the read behind a ticket read ahead: it changes nothing)
            return list(frames)

        app._display = counted  # type: ignore[method-assign]
        await open_highlighted(pilot, screen, printer)
        assert len(await drawn_by(key("back"))) == 1
        await highlight(pilot, screen, vpn)
        await until(pilot, lambda: vpn in pane._ahead)
        opened = await drawn_by(key("queue.open"))
        assert pane.current_id == vpn and app.focused is pane.history
        assert len(opened) == 1 and {"detail", "history", "tickets"} <= set(opened[0]), opened
        table = screen.queue_pane.table
        step, neighbour = next(
            (step, table.row_id(table.cursor_row + step))
            for step in (1, -1)
            if table.row_id(table.cursor_row + step) is not None
        )
        await until(pilot, lambda: neighbour in pane._ahead)  # what J or K opens, read ahead
        stepped = await drawn_by(key("next_ticket" if step == 1 else "prev_ticket"))
        assert pane.current_id == neighbour and len(stepped) == 1, stepped
        back = await drawn_by(key("back"))
        assert app.focused is screen.queue_pane.table and len(back) == 1, back


@run_async
async def test_a_ticket_read_ahead_opens_with_its_lines_drawn_ahead_as_a_fresh_read_draws_them(
    database: Database, tui_desk: dict[str, int]
) -> None:
    """What enter shows of a ticket read ahead was laid out and drawn while the cursor rested on
    it (enter draws nothing new), and is what drawing it afresh gives; if the panes changed width
    meanwhile, what was laid out is not used."""
    from tessera.tui.history_view import LinePane

    printer, vpn = tui_desk["printer"], tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        pane = screen.ticket_pane
        draws: list[int] = []
        drawing = LinePane._draw

        def counted(self, block, width, height):  # type: ignore[no-untyped-def]
            if not laying:  # (what is read ahead, the next ticket too, is laid out: not counted)
                draws.append(width)
            return drawing(self, block, width, height)

        laying: list[bool] = []
        lay_out = LinePane.lay_out

        def laid_out(self, blocks, *, end):  # type: ignore[no-untyped-def]
            laying.append(True)
            try:
                return lay_out(self, blocks, end=end)
            finally:
                laying.pop()

        def on_screen(widget: LinePane) -> list[str]:
            return [widget.render_line(y).text for y in range(widget.scrollable_content_region.height)]

        LinePane._draw, LinePane.lay_out = counted, laid_out  # type: ignore[method-assign]
        try:
            for ticket_id, width in ((printer, None), (vpn, 100)):
                await highlight(pilot, screen, ticket_id)
                await until(pilot, lambda t=ticket_id: t in pane._laid)
                if width is not None:  # narrower panes than it was laid out for
                    await pilot.resize_terminal(width, SIZE[1])
                    await settle(pilot)
                draws.clear()
                await pilot.press(key("queue.open"))
                await until(pilot, lambda t=ticket_id: pane.current_id == t)
                await settle(pilot)
                assert (not draws) if width is None else draws, draws
                shown = (on_screen(pane.history), on_screen(screen.query_one("#detail", DetailPane)))
                pane.show(pane.current)  # drawn afresh
                pane.history.scroll_end(animate=False, immediate=True)
                await settle(pilot)
                assert (on_screen(pane.history), on_screen(screen.query_one("#detail", DetailPane))) == shown
                assert any("Printer on fire" in line or "VPN" in line for line in shown[1])
                await pilot.press(key("back"))
        finally:
            LinePane._draw, LinePane.lay_out = drawing, lay_out  # type: ignore[method-assign]


@run_async
async def test_reply_and_comment_are_recorded(database: Database, tui_desk) -> None:
    vpn = tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, vpn, "reply", ComposeScreen)
        assert "vpn@customer.example" in str(app.screen.query_one("#compose-to").render())
        await type_text(pilot, "Try again now")
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        review = str(app.screen.query_one("#review-message").render())
        assert "To: vpn@customer.example" in review and "Try again now" in review
        plan = str(app.screen.query_one("#review-plan").render())
        assert "Mail that would be queued" in plan and "vpn@customer.example" in plan
        assert ticket_state(database, vpn)["history"][-1]["type"] == "Create"  # nothing sent yet
        await pilot.press(key("review.send"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await settle(pilot)
        await pilot.press(key("comment"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await type_text(pilot, "note to self")
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        review = str(app.screen.query_one("#review-message").render())
        assert "Internal comment" in review and "vpn@customer.example" not in review
        await pilot.press(key("review.send"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await settle(pilot)
    from tessera.tui import drafts

    assert not list(drafts.drafts_dir().glob("*.txt"))  # sent, so no draft is left behind
    events = ticket_state(database, vpn)["history"]
    kinds = [(e["type"], e["actor"], (e["message"] or {}).get("content")) for e in events]
    # the reply starts with the message it answers quoted (tests/test_tui_workday.py has the rest)
    reply = next(content for kind, actor, content in kinds if kind == "Correspond" and actor == "alice")
    assert reply.startswith("On ") and reply.endswith(" root wrote:\n> Since Monday.\n\nTry again now")
    assert ("Comment", "alice", "note to self") in kinds


@run_async
async def test_drafts_survive_postpone_and_refusal_and_discard_asks(database: Database, tui_desk) -> None:
    from tessera.core import grants, users
    from tessera.tui import drafts

    with database.session() as session:
        root = open_context(session, "root")
        users.add_user(root, "carol", email="carol@desk.example", privileged=True)
        for right in ("SeeQueue", "ShowTicket"):
            grants.grant(root, right, "user:carol")
    vpn = tui_desk["vpn"]
    # carol may read but not reply: the refused reply stays on disk as a draft
    app = make_app(database, user="carol")
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, vpn, "reply_blank", ComposeScreen)
        await type_text(pilot, "half a thought")
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press(key("review.send"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await settle(pilot)
    path = drafts.draft_path("carol", "reply", [vpn])
    assert drafts.load(path) == "half a thought"
    # the draft comes back; Escape offers keep editing / postpone / discard
    app = make_app(database, user="carol")
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, vpn, "reply_blank", ComposeScreen)
        assert app.screen.text == "half a thought"
        await type_text(pilot, " and more")
        await pilot.press(key("compose.discard"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"postpone", "enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert drafts.load(path) == "half a thought and more"
        await pilot.press(key("reply_blank"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await pilot.press(key("compose.discard"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"discard", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.no"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert drafts.load(path) == "half a thought and more"
        await pilot.press(key("compose.discard"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"discard", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.yes"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
    assert drafts.load(path) is None


@pytest.mark.parametrize("over_ssh", [False, True])
def test_a_restored_draft_names_its_file_only_on_this_machine(
    database: Database, tui_desk, monkeypatch, over_ssh: bool
) -> None:
    """Over SSH the draft is the server's file: the notice says it came back, not where it lies."""
    from tessera.tui import drafts, remote

    if over_ssh:
        monkeypatch.setenv(remote.SESSION_ENV, "1")
    vpn = tui_desk["vpn"]
    path = drafts.draft_path("alice", "reply", [vpn])
    drafts.save(path, "half a thought")

    @run_async
    async def check() -> None:
        app = make_app(database)
        async with app.run_test(size=SIZE) as pilot:
            await opened(pilot, vpn, "reply_blank", ComposeScreen)
            said = [n.message for n in app._notifications if n.message.startswith("Draft restored")]
            assert said == (["Draft restored"] if over_ssh else [f"Draft restored from {path}"])

    try:
        check()
    finally:
        drafts.remove(path)


@run_async
async def test_review_step_edit_again_postpone_and_discard(database: Database, tui_desk) -> None:
    from tessera.tui import drafts

    vpn = tui_desk["vpn"]
    path = drafts.draft_path("alice", "reply", [vpn])
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, vpn, "reply_blank", ComposeScreen)
        await type_text(pilot, "First try")
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        # edit again: back in the composer with the text as it was
        await pilot.press(key("review.edit"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert app.screen.text == "First try"
        await type_text(pilot, ", better")
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        assert "First try, better" in str(app.screen.query_one("#review-message").render())
        # postpone: nothing sent, the draft stays on disk
        await pilot.press(key("review.postpone"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert drafts.load(path) == "First try, better"
        # discard asks y/N; n goes back to the review
        await pilot.press(key("reply_blank"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert app.screen.text == "First try, better"
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press(key("review.discard"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.no"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press(key("review.discard"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.yes"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await settle(pilot)
    assert drafts.load(path) is None
    kinds = [e["type"] for e in ticket_state(database, vpn)["history"]]
    assert "Correspond" not in kinds  # postponed and discarded: nothing was ever sent


@run_async
async def test_take_then_resolve_asks_yes_no(database: Database, tui_desk) -> None:
    laptop = tui_desk["laptop"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, laptop)
        await pilot.press(key("take"))
        await settle(pilot)
        assert ticket_state(database, laptop)["owner"] == "alice"
        assert cell_text(screen, laptop, "owner") == "alice"
        await highlight(pilot, screen, laptop)
        await pilot.press(key("resolve"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.query_one(".question", Static).render())
        assert question == f"Set {screen.queue_pane.rows[laptop].display_id} to resolved?"
        plan = str(app.screen.query_one("#confirm-detail Static", Static).render())
        assert "Dry run of the scrips" in plan and "Mail that would be queued" in plan
        await pilot.press("enter")  # Enter alone never confirms
        await settle(pilot)
        assert ticket_state(database, laptop)["status"] == "new"
        await pilot.press(key("resolve"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.yes"))
        await settle(pilot)
        assert ticket_state(database, laptop)["status"] == "resolved"
        assert cell_text(screen, laptop, "status") == "resolved"


@run_async
async def test_status_picker_offers_only_what_the_lifecycle_allows(database: Database, tui_desk) -> None:
    vpn = tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, vpn, "status", PickerScreen)
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        # alice lacks DeleteTicket, so the lifecycle's Delete action is not offered to her
        assert [c.value for c in picker.choices] == ["open", "resolved", "rejected", "stalled"]
        await pilot.press("enter")  # "Open It" is first: its update is a reply, so the composer opens
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await pilot.press(key("compose.send"))  # an action's message is optional (as in RT)
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.yes"))
        await settle(pilot)
        assert ticket_state(database, vpn)["status"] == "open"
        await highlight(pilot, screen, vpn)
        await pilot.press(key("status"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        values = [c.value for c in app.screen.choices]
        assert "open" not in values and "stalled" in values
        await pilot.press(*"stall", "enter")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.yes"))
        await settle(pilot)
        assert ticket_state(database, vpn)["status"] == "stalled"


@run_async
async def test_marked_set_take_with_count_in_confirmation(database: Database, tui_desk) -> None:
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.queue_pane.table.move_cursor(row=0)
        await pilot.press(key("queue.mark"), key("queue.mark"))
        await pilot.pause()
        assert len(screen.queue_pane.marked) == 2
        marked = set(screen.queue_pane.marked)
        assert all(cell_text(screen, t, "flag").startswith("✓") for t in marked)
        await pilot.press(key("take"))
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Take 2 tickets?" in str(app.screen.query_one(".question", Static).render())
        await pilot.press(key("confirm.yes"))
        await settle(pilot)
        for ticket_id in marked:
            assert ticket_state(database, ticket_id)["owner"] == "alice"
        assert not screen.queue_pane.marked


@run_async
async def test_assign_and_move(database: Database, tui_desk) -> None:
    printer = tui_desk["printer"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, printer, "assign", PickerScreen)
        assert [c.value for c in app.screen.choices] == ["Nobody", "alice", "bob", "root"]
        await pilot.press(*"bob", "enter")
        await settle(pilot)
        assert ticket_state(database, printer)["owner"] == "bob"
        await highlight(pilot, screen, printer)
        await pilot.press(key("move"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"netw", "enter")
        await settle(pilot)
        assert ticket_state(database, printer)["queue"] == "Network"
        assert printer not in screen.queue_pane.rows


@run_async
async def test_edit_fields_saves_only_changes(database: Database, tui_desk) -> None:
    laptop = tui_desk["laptop"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, laptop, "edit", EditScreen)
        priority = next(i for i in app.screen.query(Input) if i.name == "priority")
        priority.value = "42"
        await pilot.press(key("edit.save"))
        await settle(pilot)
    state = ticket_state(database, laptop)
    assert state["priority"] == 42 and state["subject"] == "Laptop will not boot"
    sets = [e for e in state["history"] if e["type"] == "Set"]
    assert [(e["field"], e["new"]) for e in sets] == [("Priority", "42")]


@run_async
async def test_edit_form_tab_and_shift_tab_go_from_field_to_field(database: Database, tui_desk) -> None:
    """shift+tab from the first field lands on the last field, tab from the last on the first:
    never on the form's scroll container, where typed keys would go nowhere."""
    laptop = tui_desk["laptop"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, laptop, "edit", EditScreen)
        fields = list(app.screen.query(Input))
        assert app.focused is fields[0]
        await pilot.press("shift+tab")
        assert app.focused is fields[-1]
        await pilot.press("tab")
        assert app.focused is fields[0]
        assert all(isinstance(w, Input) for w in app.screen.focus_chain)


@run_async
async def test_edit_types_into_the_first_field_and_a_refusal_keeps_the_form(
    database: Database, tui_desk
) -> None:
    laptop = tui_desk["laptop"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, laptop, "edit", EditScreen)
        form = app.screen
        assert isinstance(app.focused, Input) and app.focused.name == "subject"
        await type_text(pilot, " (again)")
        final = next(i for i in form.query(Input) if i.name == "final_priority")
        final.value = "abc"
        await pilot.press(key("edit.save"))
        error = form.query_one("#edit-error", Static)
        await until(pilot, lambda: error.display)
        assert "Final priority" in str(error.render()) and "final_priority" not in str(error.render())
        assert app.screen is form and app.focused is final  # the form stays, at the refused field
        assert ticket_state(database, laptop)["subject"] == "Laptop will not boot"  # nothing half-saved
        final.value = "7"
        await pilot.press(key("edit.save"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await settle(pilot)
    state = ticket_state(database, laptop)
    assert state["subject"] == "Laptop will not boot (again)" and state["final_priority"] == 7


@run_async
async def test_filter_sort_and_escape(database: Database, tui_desk) -> None:
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press(key("queue.filter"))
        await pilot.press(*"printer", "enter")
        await settle(pilot)
        assert list(screen.queue_pane.rows) == [tui_desk["printer"]]
        await until(pilot, lambda: app.focused is screen.queue_pane.table)  # focus moves a refresh later
        await pilot.press(key("cancel"))
        await settle(pilot)
        assert len(screen.queue_pane.rows) == 4
        await pilot.press(key("queue.sort"))
        await settle(pilot)
        await pilot.press(*"subject", "enter")
        await settle(pilot)
        subjects = [r.subject for r in screen.queue_pane.rows.values()]
        assert subjects == sorted(subjects, key=str.lower)
        await pilot.press(key("queue.sort"))
        await settle(pilot)
        await pilot.press(*"subject", "enter")  # the same column again flips the order
        await settle(pilot)
        assert [r.subject for r in screen.queue_pane.rows.values()] == sorted(
            subjects, key=str.lower, reverse=True
        )
    # The sort is remembered for the next session.
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        assert (screen.queue_pane.view.sort, screen.queue_pane.view.descending) == ("subject", True)


@run_async
async def test_navigation_keys(database: Database, tui_desk) -> None:
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        table = screen.queue_pane.table
        await pilot.press(key("queue.last"))
        assert table.cursor_row == 3
        await pilot.press(key("queue.first"))
        assert table.cursor_row == 0
        await pilot.press(key("queue.down"), key("queue.down"), key("queue.up"))
        assert table.cursor_row == 1
        await pilot.press(key("next_ticket"))
        await settle(pilot)
        assert screen.ticket_pane.current_id == screen.queue_pane.table.row_id(2)
        await pilot.press(key("prev_ticket"))
        await settle(pilot)
        assert screen.ticket_pane.current_id == screen.queue_pane.table.row_id(1)
        await pilot.press(key("next_pane"))
        assert app.focused is screen.query_one("#detail")
        await pilot.press(key("next_pane"))
        assert app.focused is screen.query_one("#history")
        await pilot.press("h")
        assert app.focused is screen.query_one("#detail")
        await pilot.press(key("back"))
        assert app.focused is table
        await pilot.press(key("back"))
        await pilot.pause()
    assert app.return_code == 0


@run_async
async def test_hostile_text_is_shown_literally_and_stripped(database: Database, tui_desk) -> None:
    hostile = tui_desk["hostile"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        shown = cell_text(screen, hostile, "subject")
        assert shown.startswith("[bold red]Boom[/] [/x] ")
        assert "\x1b" not in shown and "\x07" not in shown
        assert "clip" in shown and "link" in shown
        cell = screen.queue_pane.table.get_cell(str(hostile), "subject")
        assert not cell.spans  # no style came from the text
        await highlight(pilot, screen, hostile)
        await open_highlighted(pilot, screen, hostile)
        hist = screen.ticket_pane.history.plain
        assert "Body [red]not red[/red] ansi [/x]" in hist
        assert "\x1b" not in hist
        svg = app.export_screenshot()
        assert "[bold red]Boom[/]" in svg.replace("&#160;", " ")
        assert "\x1b" not in svg
    assert HOSTILE_SUBJECT.startswith("[bold red]")


@run_async
async def test_theme_toggle_is_remembered_per_user(database: Database, tui_desk) -> None:
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.theme == LIGHT
        await pilot.press(key("toggle_theme"))
        await settle(pilot)
        assert app.theme == DARK
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.theme == DARK
    app = make_app(database, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.theme == LIGHT
    app = make_app(database, theme="light")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.theme == LIGHT


@run_async
async def test_help_lists_every_action_and_palette_runs_them(database: Database, tui_desk) -> None:
    from textual.command import CommandPalette

    from tessera.tui.actions import ACTIONS

    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press(key("help"))
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-body Static", Static).render())
        for spec in ACTIONS:
            # numbered actions on their own digits fold into one line ("Saved view 1-9")
            assert spec.description in text or spec.description.rstrip("0123456789") in text
        assert "1-9" in text and "Saved view 2" not in text
        await pilot.press(key("help.close"))
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press(key("palette"))
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        titles = [c.title for c in app.get_system_commands(screen)]
        assert "Reply  (r)" in titles and "Resolve  (X)" in titles
        await pilot.press(*"Take", "enter")
        await settle(pilot)
        assert ticket_state(database, screen.queue_pane.table.row_id(0))["owner"] == "alice"


@run_async
async def test_help_scrolls_with_j_k_g_and_G(database: Database, tui_desk) -> None:
    """The help is longer than the screen; j/k/g/G move in it as in the panes (it took only arrows)."""
    from textual.containers import VerticalScroll

    app = make_app(database)
    async with app.run_test(size=(100, 24)) as pilot:
        await started(pilot)
        await pilot.press(key("help"))
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        body = app.screen.query_one("#help-body", VerticalScroll)
        await until(pilot, lambda: body.max_scroll_y > 0)
        await pilot.press(key("help.down"))
        await until(pilot, lambda: body.scroll_y == 1)
        await pilot.press(key("help.bottom"))
        await until(pilot, lambda: body.scroll_y == body.max_scroll_y)
        await pilot.press(key("help.up"))
        await until(pilot, lambda: body.scroll_y == body.max_scroll_y - 1)
        await pilot.press(key("help.top"))
        await until(pilot, lambda: body.scroll_y == 0)
        assert isinstance(app.screen, HelpScreen)


@run_async
async def test_keymap_file_rebinds_by_action_id(database: Database, tui_desk, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "keymap.toml").write_text('[keys]\nresolve = "ctrl+x"\n"no.such" = "z"\n')
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.keymap == {"resolve": "ctrl+x"}
        assert any("unknown action 'no.such'" in p for p in app.keymap_problems)
        await pilot.press("X")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("ctrl+x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))


@run_async
async def test_unknown_user_ends_with_the_error(database: Database, tui_desk) -> None:
    app = make_app(database, user="mallory")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert app.error is not None and "unknown user 'mallory'" in app.error.message
    assert app.return_code == app.error.exit_code


@run_async
async def test_empty_desk_offers_the_demo(database: Database, tmp_path, monkeypatch) -> None:
    from tessera.core.bootstrap import bootstrap

    monkeypatch.setenv("TESSERA_CONFIG_DIR", str(tmp_path / "config"))
    with database.session() as session:
        bootstrap(session, "root")
    app = make_app(database, user="root", demo_tickets=30)
    async with app.run_test(size=SIZE) as pilot:
        screen = pilot.app.main
        await screen.ready.wait()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press(key("confirm.yes"))
        await settle(pilot)
        await settle(pilot)
        assert screen.queue_pane.queue is not None
        assert len(screen.queue_pane.rows) > 0
        assert isinstance(screen.queue_pane.table, DataTable)


@run_async
async def test_attachment_is_listed_and_saved(database: Database, tui_desk, tmp_path: Path) -> None:
    from tessera.tui.screens import PromptScreen

    app = make_app(database)
    target = tmp_path / "saved" / "steps.txt"
    target.parent.mkdir()
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, tui_desk["printer"])
        await open_highlighted(pilot, screen, tui_desk["printer"])
        await pilot.press(key("save_attachment"))
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        field = app.screen.query_one(Input)
        assert field.value.endswith("steps.txt")
        assert field.value.startswith(str(Path.home()))  # not wherever tessera was started from
        field.value = str(target)
        await pilot.press("enter")
        await until(pilot, lambda: target.exists())
    assert target.read_bytes() == b"1. water\n"


@run_async
async def test_over_ssh_nothing_is_saved_and_no_editor_runs(
    database: Database, tui_desk, monkeypatch
) -> None:
    """Over SSH the app's files and programs are the server's: saving a file or running $EDITOR
    (vi's :! is a shell) would hand the server to whoever is logged in to the desk."""
    from tessera.tui import remote
    from tessera.tui.screens import PromptScreen

    monkeypatch.setenv(remote.SESSION_ENV, "127.0.0.1:50000")
    monkeypatch.setenv("EDITOR", "/bin/false-editor-that-must-not-run")
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, tui_desk["printer"])
        await open_highlighted(pilot, screen, tui_desk["printer"])
        await pilot.press(key("save_attachment"))
        said = lambda: any("cannot be saved over SSH" in str(n.message) for n in app._notifications)  # noqa: E731
        await until(pilot, said)
        assert not isinstance(app.screen, PromptScreen)
        await pilot.press(key("reply_blank"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert "$EDITOR" not in str(app.screen.query_one(".hint", Label).render())
        await pilot.press(*"typed here", key("compose.editor"))
        await pilot.pause()
        assert isinstance(app.screen, ComposeScreen) and app.screen.text == "typed here"


@run_async
async def test_long_queue_pages_from_the_database(database: Database, tui_desk) -> None:
    from tessera.core.schemas import TicketCreate
    from tessera.core.tickets import create_ticket

    with database.session() as session:
        root = open_context(session, "root")
        for n in range(130):
            create_ticket(root, TicketCreate(queue="Network", subject=f"Switch port {n}"))
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press(key("queues.pick"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"Network", "enter")
        await settle(pilot)
        assert len(screen.queue_pane.rows) == 100 and screen.queue_pane.next_cursor is not None
        await pilot.press(key("queue.last"))
        await settle(pilot)
        assert len(screen.queue_pane.rows) == 130 and screen.queue_pane.next_cursor is None
        assert len({r.subject for r in screen.queue_pane.rows.values()}) == 130


@run_async
async def test_filter_survives_a_restart_and_changes_by_others_show_up(database: Database, tui_desk) -> None:
    from tessera.core.tickets import set_status

    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press(key("queue.filter"), *"vpn", "enter")
        await settle(pilot)
        assert list(screen.queue_pane.rows) == [tui_desk["vpn"]]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        assert screen.queue_pane.view.filter == "vpn" and list(screen.queue_pane.rows) == [tui_desk["vpn"]]
        with database.session() as session:
            set_status(open_context(session, "bob"), tui_desk["vpn"], "open")
        screen.live.poll()
        await settle(pilot)
        assert cell_text(screen, tui_desk["vpn"], "status") == "open"
        await pilot.press(key("cancel"))
        await settle(pilot)
        assert len(screen.queue_pane.rows) == 4


@run_async
async def test_lost_database_shows_a_banner_and_recovers(database: Database, tui_desk) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import sessionmaker

    from tessera.core.db import make_engine

    bad_url = make_url("postgresql+psycopg://nobody@127.0.0.1:9/nowhere?connect_timeout=2")
    engine = make_engine(bad_url)
    unreachable = Database(
        url=bad_url, engine=engine, sessions=sessionmaker(engine), embedded=False, location="nowhere"
    )
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        assert screen.backend is not None
        screen.backend.db = unreachable
        await pilot.press(key("refresh"))
        await settle(pilot)
        banner = screen.query_one("#banner", Static)
        assert banner.display and "Database unreachable" in str(banner.render())
        assert len(screen.queue_pane.rows) == 4  # what was on screen stays
        assert app.screen is screen
        screen.backend.db = database
        screen.queue_pane.load_tickets()  # what the retry timer does every few seconds
        await settle(pilot)
        assert not banner.display
    engine.dispose()


@run_async
async def test_changes_by_others_arrive_live_without_moving_the_cursor(database: Database, tui_desk) -> None:
    """Another agent's change reaches the open panes through LISTEN/NOTIFY within 2 s (no poll)."""
    import time

    from tessera.core.schemas import MessageIn
    from tessera.core.tickets import correspond, set_fields

    app = make_app(database, poll_seconds=3600)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, tui_desk["printer"])
        await open_highlighted(pilot, screen, tui_desk["printer"])
        assert screen.queue_pane.table.row_id(screen.queue_pane.table.cursor_row) == tui_desk["printer"]
        await until(pilot, lambda: listening(database), timeout=10)  # the listener is connected
        started_at = time.monotonic()
        with database.session() as session:
            set_fields(open_context(session, "bob"), tui_desk["vpn"], {"subject": "VPN fixed by bob?"})
        await until(
            pilot, lambda: cell_text(screen, tui_desk["vpn"], "subject") == "VPN fixed by bob?", timeout=2
        )
        assert time.monotonic() - started_at < 2
        # The list reloaded (bob's ticket moved to the top) and the cursor stayed on the same ticket.
        assert screen.queue_pane.table.row_id(0) == tui_desk["vpn"]
        assert screen.queue_pane.table.row_id(screen.queue_pane.table.cursor_row) == tui_desk["printer"]
        with database.session() as session:
            correspond(open_context(session, "bob"), tui_desk["printer"], MessageIn(body="Bob was here live"))
        history_body = screen.ticket_pane.history
        await until(pilot, lambda: "Bob was here live" in history_body.plain, timeout=2)


@run_async
async def test_search_bar_completes_and_runs_ticketsql_and_saved_views_show(
    database: Database, tui_desk
) -> None:
    from tessera.core.search.service import save_search
    from tessera.tui.search_screens import SearchScreen

    with database.session() as session:
        save_search(open_context(session, "root"), "Printers", "Subject LIKE 'printer'", shared=True)
        save_search(open_context(session, "root"), "Urgent", "Priority >= 0", "-Priority", shared=True)
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press(key("search"))
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        search = app.screen
        await pilot.press(*"Sta")
        suggestions = search.query_one("#search-suggestions")
        await until(pilot, lambda: suggestions.option_count > 0)
        await pilot.press("tab")  # Status
        await pilot.press(*"= 'ne")
        await until(
            pilot, lambda: suggestions.option_count > 0 and suggestions.get_option_at_index(0).id == "'new'"
        )
        await pilot.press("tab")
        field = search.query_one("#search-input", Input)
        assert field.value == "Status = 'new' "
        # A value with a space is one word: tab replaces all of it, not what follows the space.
        await pilot.press(*"AND Created < 'last we")
        await until(
            pilot,
            lambda: suggestions.option_count > 0 and suggestions.get_option_at_index(0).id == "'last week'",
        )
        await pilot.press("tab")
        assert field.value == "Status = 'new' AND Created < 'last week' "
        field.value = "Status = 'new' "
        await pilot.press(*"AND Subject LIKE 'vpn'", "enter")
        await until(pilot, lambda: app.screen is screen)
        await settle(pilot)
        assert list(screen.queue_pane.rows) == [tui_desk["vpn"]]
        assert "search" in str(screen.query_one("#topbar", Static).render())
        # A bad query stays in the dialog with the column of the problem; nothing typed is lost.
        await pilot.press(key("search"))
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        field = app.screen.query_one("#search-input", Input)
        field.value = "Statsu = 'open'"
        await pilot.press("enter")
        error = app.screen.query_one("#search-error", Static)
        await until(pilot, lambda: "did you mean Status" in str(error.render()))
        assert "at column 1" in str(error.render()) and field.value == "Statsu = 'open'"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        # Saved view 1 by its digit, then escape back to the queue.
        await pilot.press(key("view.1"))
        await until(pilot, lambda: screen.queue_pane.view.search == "Subject LIKE 'printer'")
        await settle(pilot)
        assert list(screen.queue_pane.rows) == [tui_desk["printer"]]
        await pilot.press(key("cancel"))
        await settle(pilot)
        assert screen.queue_pane.view.search == "" and len(screen.queue_pane.rows) == 4
        # A view's own order becomes the pane's sort: a saved one's, or an ORDER BY in the query.
        await pilot.press(key("view.2"))
        await until(pilot, lambda: screen.queue_pane.view.search == "Priority >= 0")
        assert (screen.queue_pane.view.sort, screen.queue_pane.view.descending) == ("priority", True)
        # V lists the views; typing narrows the list, enter opens one.
        await pilot.press(key("cancel"))
        await settle(pilot)
        await pilot.press(key("views"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"urgent", "enter")
        await until(pilot, lambda: app.screen is screen and screen.queue_pane.view.search == "Priority >= 0")
        assert (screen.queue_pane.view.sort, screen.queue_pane.view.descending) == ("priority", True)
        screen.queue_pane.set_search("Priority >= 0 ORDER BY Created")
        assert (screen.queue_pane.view.sort, screen.queue_pane.view.descending) == ("created", False)
        await settle(pilot)
        assert len(screen.queue_pane.rows) == 4


@run_async
async def test_history_filter_and_scrip_trace_on_demand(database: Database, tui_desk) -> None:
    from tessera.core.schemas import MessageIn
    from tessera.core.tickets import comment, correspond, set_status

    printer = tui_desk["printer"]
    with database.session() as session:
        root = open_context(session, "root")
        correspond(root, printer, MessageIn(body="Still burning?"))
        set_status(root, printer, "open")
        comment(root, printer, MessageIn(body="Ordering a new one"))
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, printer)
        await open_highlighted(pilot, screen, printer)

        def hist() -> str:
            return screen.ticket_pane.history.plain

        def title() -> str:
            return str(screen.query_one("#history").border_title)

        everything = hist()
        assert "Status: new → open" in everything and "Ordering a new one" in everything
        assert "⚙" not in everything  # the trace is on demand
        await pilot.press(key("history_filter"))  # correspondence only
        assert "Still burning?" in hist() and "Ordering a new one" not in hist()
        assert "Status: new" not in hist() and "correspondence only" in title()
        await pilot.press(key("history_filter"))  # correspondence and comments
        assert "Ordering a new one" in hist() and "Status: new" not in hist()
        await pilot.press(key("history_filter"))  # back to everything
        assert hist() == everything
        await pilot.press(key("toggle_trace"))
        traced = hist()
        assert "scrip trace" in title()
        # the reply was made with the default scrips on: their outcomes show under it
        assert "On Correspond Notify Requestors and Ccs  committed" in traced
        assert "condition false" in traced
        # tickets made before the engine ran say so rather than showing nothing
        assert "no scrip considered this" in traced
        await pilot.press(key("toggle_trace"))
        assert hist() == everything


@run_async
async def test_take_on_someone_elses_ticket_offers_to_steal(database: Database, tui_desk) -> None:
    from tessera.core import ownership

    printer = tui_desk["printer"]
    with database.session() as session:
        ownership.take(open_context(session, "bob"), printer)
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, printer, "take", ConfirmScreen)
        assert "owned by bob. Steal it?" in str(app.screen.query_one(".question").render())
        await pilot.press(key("confirm.no"))
        await settle(pilot)
        assert ticket_state(database, printer)["owner"] == "bob"
        await pilot.press(key("take"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.yes"))
        await settle(pilot)
        await until(pilot, lambda: cell_text(screen, printer, "owner") == "alice")
    state = ticket_state(database, printer)
    assert state["owner"] == "alice"
    assert state["history"][-1]["type"] == "Steal"


@run_async
async def test_long_history_lays_out_the_newest_page_and_earlier_ones_on_scroll(
    database: Database, tui_desk
) -> None:
    from tessera.core.schemas import MessageIn
    from tessera.core.tickets import correspond
    from tessera.tui.history import PAGE
    from tessera.tui.history_view import HistoryPane

    vpn = tui_desk["vpn"]
    with database.session() as session:
        root = open_context(session, "root")
        root.scrips = False  # seeded as a bulk load: exactly these transactions
        for i in range(PAGE * 2):
            correspond(root, vpn, MessageIn(body=f"message number {i:03d}"))
    total = PAGE * 2 + 1  # and the create
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, vpn)
        await open_highlighted(pilot, screen, vpn)
        pane = screen.query_one("#history", HistoryPane)

        def hist() -> str:
            return screen.ticket_pane.history.plain

        assert f"▲ {total - PAGE} earlier transactions" in hist()
        assert f"message number {PAGE * 2 - 1:03d}" in hist() and "message number 000" not in hist()
        # Only the newest page was read from the database; the title counts all of it.
        assert screen.ticket_pane.current is not None and len(screen.ticket_pane.current.history) == PAGE
        assert f"History ({total})" in str(pane.border_title)
        assert pane.is_vertical_scroll_end  # opens at the newest
        # scrolling to the top lays out the page before, keeping the reader's place
        first_shown = f"message number {PAGE:03d}"
        pane.scroll_home(animate=False)
        await until(pilot, lambda: f"▲ {total - 2 * PAGE} earlier" in hist())
        await pilot.pause()
        assert pane.scroll_y > 0  # still looking at what was on top before
        assert first_shown in hist() and f"message number {PAGE - 1:03d}" in hist()
        # g: everything, from the very first
        await pilot.press(key("history.top"))
        await until(pilot, lambda: "earlier transactions" not in hist())
        assert "VPN drops every hour" in screen.query_one("#detail", DetailPane).plain
        assert "message number 000" in hist()
        assert len(screen.ticket_pane.current.history) == total


@run_async
async def test_a_long_history_read_a_page_at_a_time_keeps_the_filter_quote_trace_and_attachments(
    database: Database, tui_desk, tmp_path: Path
) -> None:
    """What lies before the page the panes read first still counts: the correspondence filter
    finds older messages, a reply quotes the requestor's message even when it is older than the
    page, the scrip trace shows under earlier transactions once read, and `o` lists an old
    attachment."""
    from tessera.core.schemas import AttachmentIn, MessageIn
    from tessera.core.tickets import correspond, set_fields
    from tessera.tui.history import PAGE
    from tessera.tui.screens import PromptScreen

    vpn = tui_desk["vpn"]
    with database.session() as session:
        bob = open_context(session, "bob")
        correspond(
            bob,
            vpn,
            MessageIn(
                body="Logs attached, it dropped again.",
                attachments=[AttachmentIn(filename="vpn.log", data=b"drop")],
            ),
        )
        alice = open_context(session, "alice")
        for i in range(PAGE * 2):  # a page and more of field changes after it
            set_fields(alice, vpn, {"priority": str(i % 50 + 1)})
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, vpn)
        await open_highlighted(pilot, screen, vpn)

        def hist() -> str:
            return screen.ticket_pane.history.plain

        assert "Logs attached" not in hist()  # older than the page read
        await pilot.press(key("history_filter"))  # correspondence only: reads back to find them
        await until(pilot, lambda: "Logs attached, it dropped again." in hist())
        assert "VPN drops every hour" in hist()  # and the first message
        await pilot.press(key("history_filter"), key("history_filter"))  # everything again
        await pilot.press(key("toggle_trace"))
        await until(pilot, lambda: "⚙" in hist())
        # a reply quotes bob's message, older than the page the panes read
        await pilot.press(key("reply"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert "bob wrote:\n> Logs attached, it dropped again." in app.screen.text
        await pilot.press(key("compose.discard"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        # o finds the old attachment
        await pilot.press(key("save_attachment"))
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        assert app.screen.query_one(Input).value.endswith("vpn.log")


@run_async
async def test_empty_list_says_why_and_a_new_search_drops_the_quick_filter(
    database: Database, tui_desk
) -> None:
    from tessera.tui.search_screens import SearchScreen

    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        empty = screen.query_one("#empty", Static)
        assert not empty.display
        await pilot.press(key("queue.filter"))
        await pilot.press(*"zzzz", "enter")
        await settle(pilot)
        assert not screen.queue_pane.rows and empty.display
        assert "No tickets match the filter “zzzz”: esc clears it." in str(empty.render())
        assert not screen.query_one("#filter", Input).display  # the rows get the room back
        assert "filter zzzz" in str(screen.query_one("#queue-pane").border_title)
        await pilot.press(key("search"))
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await pilot.press(*"Subject LIKE 'VPN'", "enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await settle(pilot)
        assert screen.queue_pane.view.filter == "" and list(screen.queue_pane.rows) == [tui_desk["vpn"]]
        assert not empty.display


@run_async
async def test_history_shows_each_recipient_and_marks_a_refusal(database: Database, tui_desk) -> None:
    from tessera.core.schemas import MessageIn
    from tessera.core.tickets import correspond
    from tessera.mail.delivery import SmtpSettings, deliver_due
    from tests.support.net import free_port
    from tests.support.smtp import SmtpServer, smtp_env

    printer = tui_desk["printer"]
    with database.session() as session:
        root = open_context(session, "root")
        correspond(root, printer, MessageIn(body="Is it out now?"))
    smtp = SmtpServer(free_port()).start()
    smtp.answers["printer@customer.example"] = "550 5.1.1 mailbox unknown"
    try:
        assert deliver_due(database, SmtpSettings.from_env(smtp_env(smtp.port))).failed == 1
    finally:
        smtp.stop()
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, printer)
        await open_highlighted(pilot, screen, printer)
        detail = screen.query_one("#detail", DetailPane).plain
        assert "⚠ Not delivered: printer@customer.example (mail #" in detail  # the mark on the ticket
        hist = screen.ticket_pane.history.plain
        reply = hist.index("Is it out now?")
        mail = hist.index("✉ mail #", reply)  # under the reply that sent it
        assert "failed" in hist[mail : hist.index("\n", mail)]
        assert "printer@customer.example  refused: 550 5.1.1 mailbox unknown" in hist
        assert "⚠ Delivery failed: printer@customer.example did not get the mail" in hist
        # The mark stays when only the correspondence is shown.
        await pilot.press(key("history_filter"))
        assert "⚠ Delivery failed" in screen.ticket_pane.history.plain


@run_async
async def test_a_queue_created_elsewhere_reaches_the_queue_list_and_the_picker(
    database: Database, tui_desk
) -> None:
    """A queue made by the CLI (or another agent) while the TUI runs: its NOTIFY reloads the queue
    list (the shown queue stays), and the picker (Q) reads the queues afresh when it opens."""
    from tessera.core.queues import create_queue, update_queue

    app = make_app(database, poll_seconds=3600)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        pane = screen.queue_pane
        shown = pane.queue
        await until(pilot, lambda: listening(database), timeout=10)
        with database.session() as session:
            create_queue(open_context(session, "root"), "Made Meanwhile")
        await until(pilot, lambda: "Made Meanwhile" in [q.name for q in pane.queues], timeout=5)
        assert pane.queue == shown  # the list grew; the queue on screen did not change
        # With no notice heard (the listener gone), the picker still reads the queues when it opens.
        screen.live._stop.set()
        await until(pilot, lambda: not listening(database), timeout=10)
        with database.session() as session:
            update_queue(open_context(session, "root"), "Made Meanwhile", {"name": "Renamed Meanwhile"})
        await pilot.press(key("queues.pick"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        assert "Renamed Meanwhile" in [q.name for q in pane.queues]


@run_async
async def test_the_edit_form_refuses_to_empty_a_required_field_and_says_which(
    database: Database, tui_desk
) -> None:
    from tessera.core.customfields import create_field
    from tessera.core.tickets import set_fields

    laptop = tui_desk["laptop"]
    with database.session() as session:
        root = open_context(session, "root")
        create_field(root, "Asset", queue="General", pattern=r"\S+")
        set_fields(root, laptop, {"cf.Asset": "LT-7"})
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, laptop, "edit", EditScreen)
        form = app.screen
        next(i for i in form.query(Input) if i.name == "cf.Asset").value = ""
        await pilot.press(key("edit.save"))
        error = form.query_one("#edit-error", Static)
        await until(pilot, lambda: error.display)
        assert "'Asset' is required" in str(error.render())
        assert app.screen is form
    assert ticket_state(database, laptop)["custom_fields"]["Asset"] == "LT-7"


@run_async
async def test_a_queue_name_and_a_filter_with_markup_show_literally_in_the_pane_title(
    database: Database, tui_desk
) -> None:
    """A border title reads markup: a queue named `[b]…[/b]` and a filter typed with brackets show
    as typed, never as styles."""
    from tessera.core.queues import update_queue

    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        pane = screen.queue_pane
        shown = pane.queue
        assert shown is not None
    with database.session() as session:
        update_queue(open_context(session, "root"), shown.name, {"name": "[b]Ops[/b] [$x]"})
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        pane = screen.queue_pane
        assert pane.queue is not None and pane.queue.name == "[b]Ops[/b] [$x]"
        pane.set_filter("[red]pape")
        await settle(pilot)
        assert pane._border_title is not None  # (what is drawn; `border_title` gives it back as markup)
        title = pane._border_title.plain
        assert title.startswith("[b]Ops[/b] [$x] (") and title.endswith("· filter [red]pape"), title


@run_async
async def test_an_open_saved_view_is_titled_by_its_name_not_search(database: Database, tui_desk) -> None:
    """The pane's title and the top bar name the saved view that shows (by its digit or from V),
    and keep it across a restart (the view preference); a typed search is still "search"."""
    from textual.content import Content

    from tessera.core.search.service import save_search
    from tessera.tui.queue_view import QueueView

    with database.session() as session:
        save_search(open_context(session, "root"), "Printers [b]", "Subject LIKE 'printer'", shared=True)
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        pane, bar = screen.queue_pane, screen.query_one("#topbar", Static)
        await pilot.press(key("view.1"))
        await until(pilot, lambda: pane.view.search == "Subject LIKE 'printer'")
        await settle(pilot)
        assert "view Printers [b]" in str(bar.render()) and "search" not in str(bar.render())
        assert Content.from_markup(pane.border_title or "").plain.startswith("Printers [b] (1)")
        assert QueueView.from_preference(pane.view.preference()).name == "Printers [b]"
        await pilot.press(key("cancel"))
        await until(pilot, lambda: not pane.view.search)
        await pilot.press(key("views"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen and pane.view.name == "Printers [b]")
        pane.set_search("Subject LIKE 'printer'")  # the same query, typed: a search, not the view
        await settle(pilot)
        assert "search Subject LIKE" in str(bar.render()) and str(pane.border_title).startswith("Search")


@run_async
async def test_switching_views_never_titles_the_new_view_with_the_old_views_count(
    database: Database, tui_desk
) -> None:
    """D (and any change of view) titles the list "…" until the new view's rows arrive: never the
    previous view's figure under the new view's name."""
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        pane = screen.queue_pane
        assert pane.border_title == f"General ({len(pane.rows)})"
        titles: list[str] = []
        told = pane.changed

        def changed() -> None:
            told()
            titles.append(str(pane.border_title))

        pane.changed = changed  # type: ignore[method-assign]
        await pilot.press(key("breaching"))
        await until(pilot, lambda: pane.view.breaching)
        await settle(pilot)
        final = f"Breaching soon ({len(pane.rows)})"
        assert titles[-1] == final
        assert set(titles) <= {"Breaching soon (…)", final}, titles
        assert len(pane.rows) != 4  # (the queue's figure: the test would prove nothing if equal)


@run_async
async def test_the_reply_editor_stays_visible_and_usable_at_40_by_12(database: Database, tui_desk) -> None:
    """A small terminal (40×12): the reply dialog drops its frame and spacing so the text box keeps
    several lines on screen, and what you type lands in it."""
    from textual.widgets import TextArea

    vpn = tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=(40, 12)) as pilot:
        await opened(pilot, vpn, "reply", ComposeScreen)
        await pilot.pause()
        body = app.screen.query_one("#compose-body", TextArea)
        region = body.region
        assert region.height >= 3 and region.bottom <= 12 and region.width >= 30, region
        assert app.focused is body
        await type_text(pilot, "Fixed")
        assert "Fixed" in body.text  # (below the quote)

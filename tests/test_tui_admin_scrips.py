"""The admin area's scrip editor, driven from the keyboard: refusal for non-admins, a new scrip
written from nothing (condition, action, template), an error shown at its line, a dry-run on a real
ticket, save (a revision), the scrip firing on the next change, and a revert. Snapshots of the
editor in both themes.

Update the snapshots after an intended change with
`pytest tests/test_tui_admin_scrips.py --snapshot-update` and review the SVGs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from textual.widgets import Input

from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.core.models import OutboxMessage, Scrip, ScripRevision, ScripTemplate, Ticket, Transaction
from tessera.scrips import editing
from tessera.scrips import revisions as scrip_revisions
from tessera.tui.admin.editor import EditorScreen
from tessera.tui.admin.editor_fields import CodeArea
from tessera.tui.admin.revisions_screen import HistoryScreen
from tessera.tui.admin.screen import AdminScreen
from tessera.tui.admin.scrips import ScripAdmin
from tessera.tui.app import TesseraApp
from tessera.tui.main_screen import MainScreen
from tessera.tui.screens import ConfirmScreen, PickerScreen
from tests.support.desks import build_desk
from tests.support.tui import FIXED_NOW, key, run_async, settle, type_text, until

SIZE = (140, 44)
BROKEN = "Subject: Closed: {{ ticket.subject }}\n\nHello,\n{{ ticket.display_id }\nis resolved.\n"
FIXED = "Subject: Closed: {{ ticket.subject }}\n\nHello,\n{{ ticket.display_id }}\nis resolved.\n"


@pytest.fixture
def tui_desk(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The TUI desk made with its scrips running, as the admin runs it (the shared `tui_desk` is
    seeded as a bulk load), its tickets dated by FIXED_NOW for the snapshots."""
    monkeypatch.setenv("TESSERA_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path / "data"))
    ids = build_desk(database, scrips=True)
    with database.session() as session:
        for n, ticket_id in enumerate(sorted(ids.values())):
            moment = FIXED_NOW - timedelta(days=n + 1)
            session.execute(
                update(Ticket).where(Ticket.id == ticket_id).values(created=moment, updated=moment)
            )
            session.execute(
                update(Transaction).where(Transaction.ticket_id == ticket_id).values(created=moment)
            )
        session.commit()
    return ids


def make_app(database: Database, user: str = "root", theme: str = "light") -> TesseraApp:
    return TesseraApp(lambda: database, user=user, theme=theme, clock=lambda: FIXED_NOW)


async def started(pilot: Any) -> MainScreen:
    await pilot.app.main.ready.wait()
    await settle(pilot)
    return pilot.app.main


async def open_admin(pilot: Any) -> AdminScreen:
    await started(pilot)
    await pilot.press(key("admin.open"))
    await until(pilot, lambda: isinstance(pilot.app.screen, AdminScreen))
    await settle(pilot)
    scrips = pilot.app.screen.query_one(ScripAdmin)
    await until(pilot, lambda: bool(scrips.rows))
    return pilot.app.screen


async def pick(pilot: Any, text: str) -> None:
    """In an open picker: narrow by typing, take the first match."""
    await until(pilot, lambda: isinstance(pilot.app.screen, PickerScreen))
    if text:
        await pilot.press(text[0])  # typed on the list: it moves to the narrowing field
        await type_text(pilot, text[1:])
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(pilot.app.screen, PickerScreen))


async def type_into(pilot: Any, selector: str, text: str) -> None:
    screen = pilot.app.screen
    widget = screen.query_one(selector)
    widget.focus()
    await pilot.pause()
    if isinstance(widget, Input):
        widget.value = ""
    else:
        widget.load_text("")
    await type_text(pilot, text)


@asynccontextmanager
async def checked(pilot: Any, screen: EditorScreen) -> AsyncIterator[None]:
    """Change the draft inside the block; on leaving, wait for the as-you-type check that follows.

    Each check hands the editor a new list of problems, so "a check ran after the change" is the
    list no longer being the one shown before it (no check is in flight when the block starts)."""
    await settle(pilot)
    shown = screen.problems
    yield
    await until(pilot, lambda: screen.problems is not shown)
    await settle(pilot)


def counts(database: Database) -> dict[str, int]:
    from sqlalchemy import func

    with database.session() as session:
        return {
            m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0
            for m in (Ticket, Transaction, OutboxMessage, Scrip, ScripTemplate, ScripRevision)
        }


async def new_scrip_with_broken_template(pilot: Any) -> EditorScreen:
    await open_admin(pilot)
    await pilot.press(key("scrips.new"))
    await until(pilot, lambda: isinstance(pilot.app.screen, EditorScreen))
    editor: EditorScreen = pilot.app.screen
    await type_into(pilot, "#ed-description", "Tell the requestor it is closed")
    editor.query_one("#ed-condition").focus()
    await pilot.press("enter")
    await pick(pilot, "OnResolve")
    editor.query_one("#ed-action").focus()
    await pilot.press("enter")
    await pick(pilot, "Notify")
    await type_into(pilot, "#ed-action-arg", "Requestor")
    await type_into(pilot, "#ed-template-name", "Closed note")
    await settle(pilot)
    async with checked(pilot, editor):
        editor.query_one("#ed-template", CodeArea).load_text(BROKEN)
    return editor


# -- rights ---------------------------------------------------------------------------------------


@run_async
async def test_a_non_admin_gets_one_line_and_stays(database: Database, tui_desk) -> None:
    app = make_app(database, user="alice")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press(key("admin.open"))
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        notes = [str(n.message) for n in app._notifications]
        assert any("alice may not open the admin area" in n for n in notes), notes
        assert all("\n" not in n for n in notes)


@run_async
async def test_a_tab_digit_typed_with_f9_opens_that_tab(database: Database, tui_desk) -> None:
    """F9 3 typed at once: the admin area opens on Lifecycles. The 3 waits until the area
    shows, instead of going to the main screen (saved view 3) while the rights are read."""
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press(key("admin.open"), "3")
        await until(pilot, lambda: isinstance(app.screen, AdminScreen))
        tabs = app.screen.query_one("#admin-tabs")
        await until(pilot, lambda: tabs.active == "tab-lifecycles")


@run_async
async def test_a_focus_landing_late_in_another_tab_does_not_take_the_tab_back(
    database: Database, tui_desk
) -> None:
    """The area focuses its first list as it opens; on a loaded machine that focus's message came
    after `3` had chosen Lifecycles, and the tabs went back to Scrips (the test above failed about
    one run in two with another test run beside it)."""
    from textual.widgets import TabPane

    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_admin(pilot)
        tabs = screen.query_one("#admin-tabs")
        await pilot.press("3")
        await until(pilot, lambda: tabs.active == "tab-lifecycles")
        scrips_pane = screen.query_one("#tab-scrips", TabPane)
        scrips_pane.post_message(TabPane.Focused(scrips_pane))  # what focusing its list posts
        await settle(pilot)
        assert tabs.active == "tab-lifecycles"
        await pilot.press("1")  # the digits still choose
        await until(pilot, lambda: tabs.active == "tab-scrips")


@run_async
async def test_palette_reaches_the_admin_area(database: Database, tui_desk) -> None:
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        titles = [c.title for c in app.get_system_commands(screen)]
        assert any(t.startswith("Admin: scrips") and "(f9)" in t for t in titles)
        await pilot.press(key("palette"))
        await pilot.pause()
        await pilot.press(*"Admin: scrips", "enter")
        await until(pilot, lambda: isinstance(app.screen, AdminScreen))
        await settle(pilot)
        await pilot.press(key("admin.close"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


# -- the whole flow ---------------------------------------------------------------------------------


@run_async
async def test_write_dry_run_save_fire_and_revert_a_scrip(database: Database, tui_desk) -> None:
    printer = tui_desk["printer"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        editor = await new_scrip_with_broken_template(pilot)
        # The error is shown at its line: marked in the text and in the problem list; F8 goes there.
        area = editor.query_one("#ed-template", CodeArea)
        assert area.marks == {3: "error"}
        problems = str(editor.query_one("#ed-problems").render())
        assert "template line 4: unexpected '}'" in problems
        area.move_cursor((0, 0))
        await pilot.press(key("editor.problem"))
        await pilot.pause()
        assert area.cursor_location == (3, 0) and editor.focused is area
        # Saving is refused while it does not compile; nothing is written.
        before = counts(database)
        await pilot.press(key("editor.save"))
        await settle(pilot)
        assert counts(database) == before
        # Said where the problem is, not in a toast that outlives the fix.
        assert "Not saved" in str(editor.query_one("#ed-problems").render())
        assert not any(n.severity == "error" for n in app._notifications)

        # Fix it; the problem goes away.
        async with checked(pilot, editor):
            area.load_text(FIXED)
        assert area.marks == {} and editor.problems == []
        assert "Not saved" not in str(editor.query_one("#ed-problems").render())

        # Dry-run on a real ticket: rendered headers, body, recipients; nothing written or sent.
        await type_into(pilot, "#dry-ticket", str(printer))
        await type_into(pilot, "#dry-change", "status=resolved")
        await pilot.press(key("editor.dry_run"))
        await until(pilot, lambda: "Mail 1" in str(editor.query_one("#dry-result").render()))
        shown = str(editor.query_one("#dry-result").render())
        flat = " ".join(shown.split())  # (a long header wraps under its name, at the panel's width)
        assert "Subject: [TKT-" in flat and "] Closed: Printer on fire Reply-To" in flat, shown
        assert "To: printer@customer.example" in flat
        assert "is resolved." in shown and "OnResolve: true" in shown  # the condition's own name
        assert "On Status" not in shown
        assert counts(database) == before

        # The dry-run follows the text as it stands.
        area.load_text(FIXED.replace("Hello,", "Dear customer,"))
        await until(pilot, lambda: "Dear customer," in str(editor.query_one("#dry-result").render()))

        # Save: one scrip, one template, a revision of each.
        await pilot.press(key("editor.save"))
        await settle(pilot)
        with database.session() as session:
            scrip = session.scalars(
                select(Scrip).where(Scrip.description == "Tell the requestor it is closed")
            ).one()
            revisions = session.scalars(select(ScripRevision).where(ScripRevision.scrip_id == scrip.id)).all()
            assert [r.change for r in revisions] == ["create"] and revisions[0].actor_name == "root"
            scrip_id = scrip.id
        assert editor.scrip_id == scrip_id and not editor.dirty
        # What the editor saved is what `tessera scrip export` prints.
        with database.session() as session:
            from tessera.scrips.catalog_file import export_data

            exported = export_data(open_context(session, "root"))
        assert editor.current_spec() in exported["scrips"]

        # Change the action and save again: a second revision.
        await type_into(pilot, "#ed-action-arg", "Requestor,Cc")
        await pilot.press(key("editor.save"))
        await settle(pilot)
        # History (F6): two revisions with the diff; revert to the first (r, then y).
        await pilot.press(key("editor.history"))
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and bool(app.screen.rows))
        history: HistoryScreen = app.screen
        assert [r["change"] for r in history.rows] == ["update", "create"]
        assert "+  argument: Requestor,Cc" in str(history.query_one("#history-diff-body").render())
        # Versions are numbered per scrip from 1, not by revision id.
        labels = [str(o.prompt) for o in history.query_one("#history-revisions").options]
        assert labels[0].startswith("v2 ") and labels[1].startswith("v1 ")
        await pilot.press("j")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.yes"))
        await until(pilot, lambda: app.screen is editor)
        await settle(pilot)
        assert editor.query_one("#ed-action-arg", Input).value == "Requestor"
        title = str(editor.query_one("#editor-title").render())
        assert title.startswith(f"Scrip {scrip_id}: Tell the requestor it is closed")
        with database.session() as session:
            ctx = open_context(session, "root")
            assert editing.get_scrip(ctx, scrip_id)["spec"]["action"]["argument"] == "Requestor"
            assert [r["change"] for r in scrip_revisions.revisions(ctx, "scrip", scrip_id)] == [
                "revert",
                "update",
                "create",
            ]

        # Back to the list: the new scrip is there.
        await pilot.press(key("editor.close"))
        await until(pilot, lambda: isinstance(app.screen, AdminScreen))
        await settle(pilot)
        scrips = app.screen.query_one(ScripAdmin)
        await until(pilot, lambda: any(r["id"] == scrip_id for r in scrips.rows))

        # It fires on the next matching change: resolve the ticket from the queue (X, then y).
        await pilot.press(key("admin.close"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        main = app.main
        main.queue_pane.table.focus()
        main.queue_pane.table.move_cursor(row=list(main.queue_pane.rows).index(printer))
        await pilot.press(key("resolve"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Tell the requestor it is closed" in str(app.screen.detail)
        await pilot.press(key("confirm.yes"))
        await settle(pilot)
        await until(pilot, lambda: bool(outbox_subjects(database, scrip_id)))
    assert any(s.endswith("Closed: Printer on fire") for s in outbox_subjects(database, scrip_id))


def outbox_subjects(database: Database, scrip_id: int) -> list[str]:
    with database.session() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.scrip_id == scrip_id))
        return [m.summary["subject"] for m in rows]


@run_async
async def test_template_tab_edits_a_template_with_a_revision(database: Database, tui_desk) -> None:
    from tessera.tui.admin.scrips import TemplateAdmin

    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await open_admin(pilot)
        await pilot.press(key("admin.tab.2"))
        await settle(pilot)
        templates = app.screen.query_one(TemplateAdmin)
        await until(pilot, lambda: bool(templates.rows))
        resolved = next(i for i, r in enumerate(templates.rows) if r["name"] == "Resolved")
        templates.table.focus()
        templates.table.move_cursor(row=resolved)
        await pilot.press(key("templates.edit"))
        await until(pilot, lambda: isinstance(app.screen, EditorScreen))
        editor: EditorScreen = app.screen
        area = editor.query_one("#ed-template", CodeArea)
        await pilot.pause()
        area.focus()
        area.move_cursor(area.document.end)
        async with checked(pilot, editor):
            await type_text(pilot, "Thanks, {{ queue.name }}")
            await pilot.press("enter")
        assert editor.problems == [] and editor.dirty
        await pilot.press(key("editor.save"))
        await settle(pilot)
        template_id = templates.rows[resolved]["id"]
        with database.session() as session:
            history = scrip_revisions.revisions(open_context(session, "root"), "template", template_id)
        assert [r["change"] for r in history] == ["update"] and "+  Thanks, {{ queue.name }}" in history[0][
            "diff"
        ]
        await pilot.press(key("editor.close"))
        await until(pilot, lambda: isinstance(app.screen, AdminScreen))


@run_async
async def test_list_keys_toggle_reorder_queue_scope_and_delete(database: Database, tui_desk) -> None:
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_admin(pilot)
        scrips = screen.query_one(ScripAdmin)
        table = scrips.table
        table.focus()
        table.move_cursor(row=1)
        second = scrips.rows[1]["id"]
        await pilot.press(key("scrips.up"))
        await settle(pilot)
        assert scrips.rows[0]["id"] == second and table.cursor_row == 0
        await pilot.press(key("scrips.toggle"))
        await settle(pilot)
        assert scrips.rows[0]["enabled"] is False
        await pilot.press(key("scrips.queue"))
        await pick(pilot, "General")
        await settle(pilot)
        assert scrips.scope == "General"
        assert [r["position"] for r in scrips.rows if r["enabled"]] == list(
            range(1, sum(r["enabled"] for r in scrips.rows) + 1)
        )
        table.move_cursor(row=0)
        await pilot.press(key("scrips.delete"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.yes"))
        await settle(pilot)
        assert second not in [r["id"] for r in scrips.rows]
        await pilot.press(key("scrips.deleted"))
        await pick(pilot, "")
        await settle(pilot)
        assert second in [r["id"] for r in scrips.rows]
        # The templates tab (2) lists the templates.
        await pilot.press(key("admin.tab.2"))
        await settle(pilot)
        from tessera.tui.admin.scrips import TemplateAdmin

        templates = app.screen.query_one(TemplateAdmin)
        await until(pilot, lambda: bool(templates.rows))
        assert any(r["name"] == "Resolved" for r in templates.rows)


# -- what a new user hit at 80x24 -----------------------------------------------------------------

NARROW = (80, 24)


@run_async
async def test_tab_switch_focuses_the_list_and_j_k_g_G_move_in_it(database: Database, tui_desk) -> None:
    """`3 j e` edits the second lifecycle; `4 j` moves in the queues; G then H: the last scrip."""
    from textual.widgets import DataTable, OptionList

    from tessera.tui.admin.lifecycles import LifecycleAdmin
    from tessera.tui.admin.queues import QueueAdmin

    app = make_app(database)
    async with app.run_test(size=NARROW) as pilot:
        screen = await open_admin(pilot)
        await pilot.press(key("admin.tab.3"))
        lifecycles = screen.query_one(LifecycleAdmin)
        await until(pilot, lambda: len(lifecycles.summaries) > 1)
        await settle(pilot)
        assert screen.focused is lifecycles.list
        assert lifecycles.list.highlighted == 0
        await pilot.press(key("admin.down"))
        await settle(pilot)
        assert lifecycles.list.highlighted == 1
        await pilot.press("e")
        second = lifecycles.summaries[1].name
        await until(pilot, lambda: lifecycles.editing == second)
        await pilot.press("escape")  # nothing changed: leaves without a question
        await until(pilot, lambda: lifecycles.editing is None)

        await pilot.press(key("admin.tab.4"))
        await settle(pilot)
        queues = screen.query_one(QueueAdmin)
        assert isinstance(screen.focused, DataTable) and screen.focused is queues.table
        await until(pilot, lambda: queues.table.row_count > 1)
        await pilot.press(key("admin.down"))
        await settle(pilot)
        assert queues.table.cursor_row == 1
        await pilot.press(key("admin.up"))
        assert queues.table.cursor_row == 0

        await pilot.press(key("admin.tab.5"))
        await settle(pilot)
        assert screen.focused is screen.query_one("#cf-table")
        await pilot.press(key("admin.tab.3"))
        await settle(pilot)
        assert isinstance(screen.focused, OptionList)

        await pilot.press(key("admin.tab.1"))
        await settle(pilot)
        scrips = screen.query_one(ScripAdmin)
        assert screen.focused is scrips.table
        await pilot.press(key("admin.bottom"))
        await settle(pilot)
        last = scrips.rows[-1]
        assert scrips.table.cursor_row == len(scrips.rows) - 1
        await pilot.press(key("scrips.history"))
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await settle(pilot)
        history: HistoryScreen = app.screen
        assert history.object_id == last["id"]
        assert str(last["id"]) in str(history.query_one(".title").render())
        if not history.rows:
            body = str(history.query_one("#history-diff-body").render())
            assert "No revisions yet: the first save makes one" in body
        # The dialog fits the 80 columns.
        box = history.query_one("#scrip-history").region
        assert box.x >= 0 and box.right <= NARROW[0]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press(key("admin.top"))
        assert scrips.table.cursor_row == 0


@run_async
async def test_scrip_list_shows_id_and_order(database: Database, tui_desk) -> None:
    app = make_app(database)
    async with app.run_test(size=NARROW) as pilot:
        screen = await open_admin(pilot)
        scrips = screen.query_one(ScripAdmin)
        labels = [str(c.label) for c in scrips.table.columns.values()]
        assert labels[:2] == ["ID", "Order"]
        first = scrips.table.get_row_at(0)
        assert str(first[0]) == str(scrips.rows[0]["id"])
        scope = screen.query_one("#scrips-scope")
        assert scope.size.height >= 1 and "Order = sort order" in str(scope.render())


@run_async
async def test_every_scrip_column_shows_from_80_columns_and_each_is_as_long_as_its_texts_when_wider(
    database: Database, tui_desk
) -> None:
    """At 120 columns the Action and Template columns ran off the table's right edge."""
    app = make_app(database)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_admin(pilot)
        scrips = screen.query_one(ScripAdmin)

        def spans() -> tuple[int, int]:
            table = scrips.table
            used = sum(c.get_render_width(table) for c in table.columns.values())
            return used, table.scrollable_content_region.width

        await until(pilot, lambda: spans()[0] <= spans()[1])
        narrow = scrips.widths["description"]
        assert min(scrips.widths.values()) >= 4 and scrips.table.row_count == len(scrips.rows)
        await pilot.resize_terminal(180, 40)
        await until(pilot, lambda: scrips.widths["description"] > narrow)
        assert spans()[0] <= spans()[1]
        for column, most in (("description", 60), ("action", 40)):  # as long as its texts, room permitting
            assert scrips.widths[column] == min(most, max(len(row[column]) for row in scrips.rows))
        await pilot.resize_terminal(80, 24)  # the narrowest the TUI is made for: still every column
        await until(pilot, lambda: scrips.widths["description"] < narrow)
        assert spans()[0] <= spans()[1]


@run_async
async def test_narrow_editor_puts_the_dry_run_below_and_says_why_it_was_refused(
    database: Database, tui_desk
) -> None:
    app = make_app(database)
    async with app.run_test(size=NARROW) as pilot:
        editor = await new_scrip_with_broken_template(pilot)
        right = editor.query_one("#editor-right")
        area = editor.query_one("#ed-template", CodeArea)
        assert editor.narrow and not right.display
        assert area.size.width >= NARROW[0] - 4  # the template gets the full width
        # ctrl+t without a ticket: the panel shows, the ticket field is focused, it says why.
        editor.query_one("#ed-description").focus()
        await pilot.press(key("editor.dry_run"))
        await settle(pilot)
        assert right.display and editor.focused is editor.query_one("#dry-ticket")
        assert "Which ticket?" in str(editor.query_one("#dry-result").render())
        # A refused dry-run keeps its reason in the panel.
        async with checked(pilot, editor):
            area.load_text(FIXED)
        await type_into(pilot, "#dry-ticket", "987654")
        await pilot.press(key("editor.dry_run"))
        await until(pilot, lambda: "refused" in str(editor.query_one("#dry-result").render()))
        shown = str(editor.query_one("#dry-result").render())
        assert "987654" in shown or "no ticket" in shown.lower() or "not" in shown.lower(), shown
        # F7 hides it again.
        await pilot.press(key("editor.dry_panel"))
        await settle(pilot)
        assert not right.display


@run_async
async def test_escape_in_the_scrip_editor_asks_before_discarding(database: Database, tui_desk) -> None:
    """Like the lifecycle editor: esc with unsaved changes asks; n keeps editing, y discards."""
    app = make_app(database)
    async with app.run_test(size=NARROW) as pilot:
        editor = await new_scrip_with_broken_template(pilot)
        await pilot.press(key("editor.close"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.no"))
        await until(pilot, lambda: app.screen is editor)
        assert editor.dirty
        await pilot.press(key("editor.close"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.yes"))
        await until(pilot, lambda: isinstance(app.screen, AdminScreen))


@run_async
async def test_an_unknown_filter_in_the_editor_is_shown_at_its_line(database: Database, tui_desk) -> None:
    """Typing `{{ ticket.subject|nope }}` in the template: the check marks line 3 (it raised in
    the check's worker, and the app exited with a traceback, unsaved scrip and all)."""
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        editor = await new_scrip_with_broken_template(pilot)
        async with checked(pilot, editor):
            editor.query_one("#ed-template", CodeArea).load_text("Subject: x\n\n{{ ticket.subject|nope }}\n")
        assert editor.query_one("#ed-template", CodeArea).marks == {2: "error"}
        assert "No filter named 'nope'" in str(editor.query_one("#ed-problems").render())
        assert app.screen is editor and app.return_code is None


@run_async
async def test_a_new_scrip_is_under_the_cursor_when_the_editor_closes(database: Database, tui_desk) -> None:
    """n, write, ctrl+s, esc: the list's cursor is on the scrip just made, so space (disable) or
    e acts on it, not on whatever row the cursor was on before (the first)."""
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        editor = await new_scrip_with_broken_template(pilot)
        async with checked(pilot, editor):
            editor.query_one("#ed-template", CodeArea).load_text(FIXED)
        await pilot.press(key("editor.save"))
        await until(pilot, lambda: editor.scrip_id is not None and not editor.dirty)
        made = editor.scrip_id
        await pilot.press(key("editor.close"))
        await until(pilot, lambda: isinstance(app.screen, AdminScreen))
        scrips = app.screen.query_one(ScripAdmin)
        await until(pilot, lambda: (scrips.current() or {}).get("id") == made)
        await pilot.press(key("scrips.toggle"))
        await until(pilot, lambda: any(r["id"] == made and not r["enabled"] for r in scrips.rows))
        assert scrips.rows[0]["id"] != made and scrips.rows[0]["enabled"]  # the first row untouched


# -- snapshots ------------------------------------------------------------------------------------


async def error_shown(pilot: Any) -> None:
    editor = await new_scrip_with_broken_template(pilot)
    area = editor.query_one("#ed-template", CodeArea)
    area.focus()
    area.move_cursor((0, 0))  # off the marked line, so its mark is not under the cursor line's style
    await pilot.pause()


async def dry_run_shown(pilot: Any) -> None:
    editor = await new_scrip_with_broken_template(pilot)
    async with checked(pilot, editor):
        editor.query_one("#ed-template", CodeArea).load_text(FIXED)
    await type_into(pilot, "#dry-ticket", "1")
    await type_into(pilot, "#dry-change", "status=resolved")
    await pilot.press(key("editor.dry_run"))
    await until(pilot, lambda: "Mail 1" in str(editor.query_one("#dry-result").render()))
    await settle(pilot)
    area = editor.query_one("#ed-template", CodeArea)  # not an Input: its cursor blinks
    area.focus()
    area.move_cursor((0, 0))
    await pilot.pause()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_snapshot_template_error_at_its_line(snap_compare, database: Database, tui_desk, theme: str) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(database, theme=theme), terminal_size=SIZE, run_before=error_shown)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_snapshot_dry_run(snap_compare, database: Database, tui_desk, theme: str) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(database, theme=theme), terminal_size=SIZE, run_before=dry_run_shown)


async def scrip_list_shown(pilot: Any) -> None:
    await open_admin(pilot)
    await pilot.press(key("scrips.queue"))
    await pick(pilot, "General")
    await settle(pilot)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_snapshot_scrips_of_a_queue_in_run_order(
    snap_compare, database: Database, tui_desk, theme: str
) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(database, theme=theme), terminal_size=SIZE, run_before=scrip_list_shown)

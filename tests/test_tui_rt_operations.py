"""The TUI's part of RT's operations: a lifecycle action picked from the status menu opens the
composer when its update is a reply or a comment (as RT's action menu opens the update page), then
runs core's one-step `run_action` with the message (as `tessera ticket action ID ACTION --body`
does: one transaction batch); the ticket pane lists reminders, and `M` adds, resolves and reopens
them."""

from __future__ import annotations

from tessera.core import reminders
from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.tui.history_view import DetailPane
from tessera.tui.screens import ComposeScreen, ConfirmScreen, PickerScreen, PromptScreen
from tests.support.tui import key, run_async, settle, type_text, until
from tests.test_tui_app import SIZE, highlight, make_app, open_highlighted, started, ticket_state


@run_async
async def test_an_action_from_the_status_menu_opens_the_composer_and_runs_as_one_batch(
    database: Database, tui_desk
) -> None:
    """Resolve's update is a comment: the composer opens (a comment), then the y/N with the dry-run;
    the comment and the status change are one unit and one scrip batch (one ticket version)."""
    vpn = tui_desk["vpn"]
    before = ticket_state(database, vpn)["version"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, vpn)
        await pilot.press(key("status"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"resolve", "enter")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        composer = app.screen
        assert isinstance(composer, ComposeScreen) and composer.kind == "comment"
        await type_text(pilot, "Fixed the tunnel.")
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.yes"))
        await until(pilot, lambda: ticket_state(database, vpn)["status"] == "resolved")
        await settle(pilot)
        assert any(str(n.message).startswith("Resolve:") for n in app._notifications)  # the action's label
    state = ticket_state(database, vpn)
    last = state["history"][-2:]
    assert [e["type"] for e in last] == ["Comment", "Status"]
    assert "Fixed the tunnel." in last[0]["message"]["content"]
    assert state["version"] == before + 1  # one unit of work: the version moved once


@run_async
async def test_an_action_that_answers_opens_a_reply_and_may_go_without_a_message(
    database: Database, tui_desk
) -> None:
    vpn = tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, vpn)
        await pilot.press(key("status"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"reject", "enter")  # Reject's update is `respond`: a reply
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert app.screen.kind == "reply"
        await pilot.press(key("compose.send"))  # empty: the action alone
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.yes"))
        await until(pilot, lambda: ticket_state(database, vpn)["status"] == "rejected")
        await settle(pilot)
    assert ticket_state(database, vpn)["history"][-1]["type"] == "Status"
    assert ticket_state(database, vpn)["history"][-2]["type"] != "Correspond"


@run_async
async def test_reminders_key_adds_resolves_and_reopens_a_reminder(database: Database, tui_desk) -> None:
    printer = tui_desk["printer"]
    app = make_app(database)

    def listed() -> list[dict[str, object]]:
        with database.session() as session:
            return reminders.list_reminders(open_context(session, "root"), printer)

    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, printer)
        await pilot.press(key("reminders"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press("enter")  # "+ New reminder" is first
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"Order new toner", "enter")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen) and "Due" in app.screen.title_text)
        await pilot.press(*"2030-01-02", "enter")
        await until(pilot, lambda: len(listed()) == 1)
        await settle(pilot)
        made = listed()[0]
        assert made["subject"] == "Order new toner" and str(made["due"]).startswith("2030-01-02")
        assert made["status"] == "open"
        for expected in ("resolved", "open"):  # enter on it resolves it, then reopens it
            await highlight(pilot, screen, printer)
            await pilot.press(key("reminders"))
            await until(pilot, lambda: isinstance(app.screen, PickerScreen))
            await pilot.press("down", "enter")
            await until(pilot, lambda e=expected: listed()[0]["status"] == e)
            await settle(pilot)
    types = [e["type"] for e in ticket_state(database, printer)["history"]]
    assert types[-3:] == ["AddReminder", "ResolveReminder", "OpenReminder"]


@run_async
async def test_the_ticket_pane_lists_reminders(database: Database, tui_desk) -> None:
    printer = tui_desk["printer"]
    with database.session() as session:
        reminders.add_reminder(open_context(session, "root"), printer, "Order new toner", owner="alice")
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, printer)
        await open_highlighted(pilot, screen, printer)
        detail = screen.query_one("#detail", DetailPane).plain
        assert "Reminders" in detail and "Order new toner (owner alice)" in detail and "[open]" in detail

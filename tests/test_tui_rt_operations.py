"""The TUI's part of RT's operations: a lifecycle action picked from the status menu runs core's
one-step `run_action` (as `tessera ticket action` does), and the ticket pane lists reminders."""

from __future__ import annotations

from textual.widgets import Static

from tessera.core import reminders
from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.tui.screens import ConfirmScreen, PickerScreen
from tests.support.tui import key, run_async, settle, until
from tests.test_tui_app import SIZE, highlight, make_app, open_highlighted, started, ticket_state


@run_async
async def test_an_action_from_the_status_menu_runs_as_one_step(database: Database, tui_desk) -> None:
    vpn = tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, vpn)
        await pilot.press(key("status"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"resolve", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.yes"))
        await until(pilot, lambda: ticket_state(database, vpn)["status"] == "resolved")
        await settle(pilot)
        assert any(str(n.message).startswith("Resolve:") for n in app._notifications)  # the action's label
        assert ticket_state(database, vpn)["history"][-1]["type"] == "Status"


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
        detail = str(screen.query_one("#detail-body", Static).render())
        assert "Reminders" in detail and "Order new toner (owner alice)" in detail and "[open]" in detail

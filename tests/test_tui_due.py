"""The queue's Due column (issue 21 point 5): business time left on each ticket's service-level
calendar (real time without a level), its looks (close, overdue) and their NO_COLOR marker, sorting
by Due, and the "breaching soon" view (D) and back; the history renders a timer's firing with its
trace. The desk's clock and the app's are set explicitly: nothing waits for time to pass."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from tessera.core import clock, sla, tickets
from tessera.core.calendar_store import apply_calendars
from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.core.listing import TicketRow, list_tickets
from tessera.core.models import Ticket
from tessera.core.time_left import fill
from tessera.tui.app import TesseraApp
from tessera.tui.history import render_history
from tessera.tui.history_view import DetailPane
from tessera.tui.screens import PickerScreen
from tessera.tui.ticket_table import due_text
from tests.support.tui import key, on_ticket, run_async, settle, until
from tests.test_tui_app import started

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 4, 15, 0, tzinfo=PARIS)  # a Friday, two hours before the office closes
CALENDAR = """\
name: office
timezone: Europe/Paris
hours: {mon-fri: 09:00-17:00}
"""
LEVELS = """\
levels:
  4h: {calendar: office, response: 4h}
  Real-24h: {response: {real: 24h}}
"""


@pytest.fixture
def due_desk(database: Database, tui_desk: dict[str, int]) -> Iterator[dict[str, int]]:
    """tui_desk's tickets with a Due each (and one in Network): under the 4h level, due Monday
    10:00 (3 business hours left) and Tuesday 17:00 (18); without a level, due in 30 hours of real
    time and 2 hours ago; one without a Due; an overdue ticket in Network, and a resolved one."""
    clock.set_clock(lambda: NOW)
    with database.session() as session:
        root = open_context(session, "root")
        apply_calendars(root, CALENDAR)
        sla.apply_service_levels(root, LEVELS)
        from tessera.core.schemas import MessageIn, TicketCreate

        other = tickets.create_ticket(
            root, TicketCreate(queue="Network", subject="Switch down", message=MessageIn(body="x"))
        ).id
        done = tickets.create_ticket(
            root, TicketCreate(queue="General", subject="Done long ago", message=MessageIn(body="x"))
        ).id
        tickets.set_status(root, done, "resolved")
        session.commit()
    ids = {**tui_desk, "network": other, "done": done}
    dues = {
        "printer": ("4h", datetime(2026, 12, 7, 10, 0, tzinfo=PARIS)),
        "vpn": ("4h", datetime(2026, 12, 8, 17, 0, tzinfo=PARIS)),
        "laptop": (None, NOW + timedelta(hours=30)),
        "hostile": (None, NOW - timedelta(hours=2)),
        "network": (None, NOW - timedelta(minutes=5)),
        "done": (None, NOW - timedelta(days=3)),
    }
    with database.session() as session:
        for name, (level, due) in dues.items():
            session.execute(update(Ticket).where(Ticket.id == ids[name]).values(sla=level, due=due))
        session.commit()
    yield ids
    clock.set_clock(None)


def make_app(database: Database) -> TesseraApp:
    return TesseraApp(lambda: database, user="alice", clock=lambda: NOW.astimezone(UTC))


def cell(app: TesseraApp, ticket_id: int, column: str = "due") -> str:
    return app.main.queue_pane.table.get_cell(str(ticket_id), column).plain


def test_time_left_counts_business_hours_on_the_levels_calendar_and_real_time_without_one(
    database: Database, due_desk: dict[str, int]
) -> None:
    with database.session() as session:
        page = list_tickets(open_context(session, "alice"), "General", time_left=True)
    left = {row.id: row.left for row in page.rows}
    assert left[due_desk["printer"]] == timedelta(hours=3)  # Fri 15-17, Mon 9-10
    assert left[due_desk["vpn"]] == timedelta(hours=18)  # Fri 2h, Mon 8h, Tue 8h (real: 98h)
    assert left[due_desk["laptop"]] == timedelta(hours=30)
    assert left[due_desk["hostile"]] == -timedelta(hours=2)
    assert left[due_desk["done"]] is None  # resolved: no time left, not 3 days overdue
    # a Due far away or long past counts no further than the list shows (99h+)
    row = TicketRow(1, "s", "new", None, 0, None, NOW, NOW, False, NOW + timedelta(days=400), None)
    fill([row], NOW, {})
    assert due_text(row.left) == "99h+"
    assert [due_text(timedelta(minutes=m)) for m in (-45, 5, 200, 600, -200)] == [
        "!45m",
        "5m",
        "3h20m",
        "10h",
        "!3h20m",
    ]


def test_one_statement_reads_each_levels_calendar_as_the_orm_does(
    database: Database, due_desk: dict[str, int]
) -> None:
    """fast_sql.LEVEL_CALENDARS (one round trip a page) against sla.load_config + calendar_by_name."""
    from tessera.core.business_hours import ALWAYS_OPEN
    from tessera.core.time_left import calendars_for

    with database.session() as session:
        ctx = open_context(session, "alice")
        levels = sla.load_config(ctx).levels
        found = calendars_for(ctx)
        assert set(found) == {name.lower() for name in levels} == {"4h", "real-24h"}
        for name, level in levels.items():
            assert found[name.lower()] == sla._calendar(ctx, level)
        assert found["4h"].name == "office" and found["real-24h"] is ALWAYS_OPEN


@run_async
async def test_due_column_shows_business_time_left_close_in_bold_overdue_marked_and_reversed(
    database: Database, due_desk: dict[str, int]
) -> None:
    app = make_app(database)
    async with app.run_test(size=(140, 40)) as pilot:
        await started(pilot)
        assert cell(app, due_desk["printer"]) == "3h"
        assert cell(app, due_desk["vpn"]) == "18h"
        assert cell(app, due_desk["laptop"]) == "30h"
        assert cell(app, due_desk["hostile"]) == "!2h"
        table = app.main.queue_pane.table
        # resolved 3 days after its Due: blank, neither marked nor reversed
        done = table.get_cell(str(due_desk["done"]), "due")
        assert done.plain == "" and not done.style
        close = table.get_cell(str(due_desk["printer"]), "due").style
        overdue = table.get_cell(str(due_desk["hostile"]), "due").style
        calm = table.get_cell(str(due_desk["laptop"]), "due").style
        assert close.bold and close.color is not None and not close.reverse  # type: ignore[union-attr]
        assert overdue.reverse and overdue.bold  # type: ignore[union-attr]
        assert not calm
        # a theme change gives the Due cells the new theme's colours
        before = close.color  # type: ignore[union-attr]
        await pilot.press(key("toggle_theme"))
        await until(pilot, lambda: table.get_cell(str(due_desk["printer"]), "due").style.color != before)  # type: ignore[union-attr]


@run_async
async def test_without_colour_overdue_still_reads_as_overdue(
    database: Database, due_desk: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(database)
    async with app.run_test(size=(140, 40)) as pilot:
        await started(pilot)
        assert app.no_color
        table = app.main.queue_pane.table
        # The marker is text, and reverse and bold survive the NO_COLOR filter (colours do not).
        overdue = table.get_cell(str(due_desk["hostile"]), "due")
        assert overdue.plain.startswith("!") and overdue.style.reverse  # type: ignore[union-attr]
        assert table.get_cell(str(due_desk["printer"]), "due").style.bold  # type: ignore[union-attr]
        screen = app.export_screenshot()
        assert "!2h" in screen


@run_async
async def test_sort_by_due_puts_the_soonest_first_and_no_due_last(
    database: Database, due_desk: dict[str, int]
) -> None:
    app = make_app(database)
    async with app.run_test(size=(140, 40)) as pilot:
        await started(pilot)
        pane = app.main.queue_pane
        await pilot.press(key("queue.sort"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        app.screen.dismiss("due")
        await until(pilot, lambda: pane.view.sort == "due")
        await settle(pilot)
        order = list(pane.rows)
        # by the Due moment (index order), soonest first; overdue first, no Due last
        expected = ["done", "hostile", "laptop", "printer", "vpn"]
        assert order == [due_desk[n] for n in expected]
        assert not pane.view.descending and "sort due" in str(app.main.top_bar.render())
        # again: latest first (no Due first, then the furthest)
        pane.set_sort("due")
        await until(pilot, lambda: pane.view.descending)
        await settle(pilot)
        assert list(pane.rows) == [due_desk[n] for n in reversed(expected)]


@run_async
async def test_breaching_soon_lists_every_queues_open_tickets_due_within_four_business_hours_and_q_goes_back(
    database: Database, due_desk: dict[str, int]
) -> None:
    app = make_app(database)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await started(pilot)
        pane = screen.queue_pane
        home = list(pane.rows)
        await pilot.press(key("breaching"))
        await until(pilot, lambda: pane.view.breaching and set(pane.rows) != set(home))
        await settle(pilot)
        # overdue (General and Network), then the 3 business hours; not the 18 business hours
        # (though 98 real), not the 30 real hours without a level, not the resolved one
        assert list(pane.rows) == [due_desk["hostile"], due_desk["network"], due_desk["printer"]]
        assert "Breaching soon" in str(pane.border_title)
        assert "breaching soon" in str(screen.top_bar.render())
        await pilot.press(key("back"))
        await until(pilot, lambda: not pane.view.breaching)
        await settle(pilot)
        assert list(pane.rows) == home and pane.view.sort == "updated"
        # D again, esc, and D from the view itself all go back too
        await pilot.press(key("breaching"))
        await until(pilot, lambda: pane.view.breaching)
        await pilot.press("escape")
        await until(pilot, lambda: not pane.view.breaching)
        await pilot.press(key("breaching"), key("breaching"))
        await until(pilot, lambda: not pane.view.breaching)
        await settle(pilot)
        assert list(pane.rows) == home


@run_async
async def test_at_80_columns_the_due_column_fits_with_every_other_and_again_widened_to_120(
    database: Database, due_desk: dict[str, int]
) -> None:
    app = make_app(database)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await started(pilot)
        table = screen.queue_pane.table
        await until(pilot, lambda: table.tight)
        used = sum(c.get_render_width(table) for c in table.columns.values())
        assert used <= table.size.width - 2
        assert "Due" in [str(c.label) for c in table.columns.values()]
        assert cell(app, due_desk["hostile"]) == "!2h "  # tight cells end in their own space

        def fits() -> bool:
            return sum(c.get_render_width(table) for c in table.columns.values()) <= table.size.width - 2

        # widened to 120x40 (the queue list comes back): the padded columns are fitted anew
        await pilot.resize_terminal(120, 40)
        await until(pilot, lambda: not table.tight and not screen.queue_pane.narrow)
        await until(pilot, fits)
        assert cell(app, due_desk["hostile"]) == "!2h"


def test_a_timer_firing_shows_its_reason_and_its_scrip_trace() -> None:
    """A transaction type the history has no title for (a timer's firing, issue 21 point 3) shows
    its type and what it says, the scrip and condition that fired it, and, with i, its trace."""
    event = {
        "id": 9,
        "type": "Timer",
        "field": None,
        "old": None,
        "new": "overdue since 2026-12-07 10:00",
        "created": "2026-12-07T10:05:00+00:00",
        "actor": "timers",
        "data": {
            "scrip": "Escalate when overdue",
            "condition": "On Overdue",
            "deadline": "2026-12-07T09:00:00+00:00",
        },
        "scrips": [{"scrip": 31, "description": "Escalate when overdue", "outcome": "committed"}],
    }
    shown = render_history([event], trace=True).plain
    assert "Timer — overdue since 2026-12-07 10:00" in shown
    assert "fired by Escalate when overdue (On Overdue)" in shown
    assert "#31 Escalate when overdue  committed" in shown


def quick_page_left(database: Database, monkeypatch: pytest.MonkeyPatch) -> dict[int, timedelta | None]:
    """Each row's time left on the first page the start-up helper reads with psycopg alone, after
    checking that page is the full path's."""
    from tessera.tui import backend
    from tests.test_tui_quick_read import full_first_screen

    monkeypatch.setenv("TESSERA_DATABASE_URL", database.url.render_as_string(hide_password=False))
    monkeypatch.delenv("TESSERA_USER", raising=False)
    quick = backend._quick_first_screen("alice")
    assert quick is not None and quick.page is not None
    assert quick == full_first_screen(database, "alice")
    return {row.id: row.left for row in quick.page.rows}


def test_the_start_up_helpers_quick_page_has_the_same_times_left(
    database: Database, due_desk: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first page read with psycopg alone (core.quick_read) fills the Due column as core does."""
    left = quick_page_left(database, monkeypatch)
    assert left[due_desk["vpn"]] == timedelta(hours=18) and left[due_desk["hostile"]] == -timedelta(hours=2)


def test_a_real_timer_firing_renders_in_the_history_with_its_trace(
    database: Database, due_desk: dict[str, int]
) -> None:
    """The shipped "escalate when overdue" timer, enabled and swept at NOW (the ticket is 2 hours
    overdue): the history the ticket pane shows has the firing, the scrip and condition that fired
    it, its trace (i), and the priority change it made."""
    from sqlalchemy import select

    from tessera.core.listing import ticket_view
    from tessera.core.models import Scrip
    from tessera.scrips.editing import set_enabled
    from tessera.scrips.timers import sweep

    with database.session() as session:
        root = open_context(session, "root")
        scrip = session.scalars(
            select(Scrip).where(Scrip.description == "[Timer] On Overdue Escalate Priority")
        )
        set_enabled(root, scrip.one().id, True)
        session.commit()
    sweep(database)
    with database.session() as session:
        events = ticket_view(open_context(session, "alice"), due_desk["hostile"]).history
    fired = [e for e in events if e["type"] == "Timer"]
    assert len(fired) == 1
    shown = render_history(events, trace=True).plain
    timer_line = next(line for line in shown.split("\n") if "  Timer — " in line)
    assert "timers" in timer_line  # the desk's timers user acted
    assert "⏱ fired by [Timer] On Overdue Escalate Priority (OnOverdue)" in shown
    assert "[Timer] On Overdue Escalate Priority  committed" in shown
    assert "Priority:" in shown


def test_the_breaching_soon_view_is_remembered_and_leaving_it_restores_the_queues_sort() -> None:
    from tessera.core.listing import QueueInfo
    from tessera.tui.queue_view import BREACHING, QueueView

    info = QueueInfo(1, "General", "")
    view = QueueView(queue="General", sort="priority", descending=True).breaching_soon()
    again = QueueView.from_preference(view.preference())  # as saved, then read at the next start
    assert again == view and again.breaching and (again.sort, again.descending) == ("due", False)
    target, options = again.request(info)
    assert target is None and options["due_within"] == BREACHING and options["time_left"]
    home = again.home()
    assert not home.breaching and (home.queue, home.sort, home.descending) == ("General", "priority", True)
    assert again.request(info)[0] is None and home.request(info)[0] == 1


@run_async
async def test_a_friday_evening_ticket_under_four_business_hours_is_due_monday_in_the_ticket_pane(
    database: Database, tui_desk: dict[str, int]
) -> None:
    """Issue 21's case in the TUI (the CLI and the API: test_sla_cli_api.py): opened on Friday at
    19:30 in Paris under a 4-business-hour level, due Monday 13:00 (12:00 UTC), 4 hours left."""

    from tessera.core.schemas import MessageIn, TicketCreate

    friday = datetime(2026, 12, 4, 19, 30, tzinfo=PARIS)
    clock.set_clock(lambda: friday)
    try:
        with database.session() as session:
            root = open_context(session, "root")
            apply_calendars(root, CALENDAR)
            sla.apply_service_levels(root, LEVELS + "queues: {General: 4h}\n")
            made = tickets.create_ticket(
                root,
                TicketCreate(queue="General", subject="Printer again", message=MessageIn(body="x")),
            ).id
            session.commit()
        app = TesseraApp(lambda: database, user="alice", clock=lambda: friday.astimezone(UTC))
        async with app.run_test(size=(140, 40)) as pilot:
            screen = await started(pilot)
            assert cell(app, made) == due_text(timedelta(hours=4))
            await on_ticket(pilot, made)
            await pilot.press("enter")
            await until(pilot, lambda: screen.ticket_pane.current_id == made)
            detail = screen.query_one("#detail", DetailPane).plain
            assert "2026-12-07 12:00" in detail, detail  # Monday 13:00 in Paris
            assert "4h: 4h 00m left" in detail, detail
    finally:
        clock.set_clock(None)


def close_work(database: Database, ids: dict[str, int]) -> None:
    """The resolved ticket under the 4h level too, and the one overdue by 2 hours rejected."""
    with database.session() as session:
        session.execute(update(Ticket).where(Ticket.id == ids["done"]).values(sla="4h"))
        session.execute(update(Ticket).where(Ticket.id == ids["hostile"]).values(status="rejected"))
        session.commit()


def test_inactive_tickets_have_no_time_left_with_or_without_a_level_and_active_ones_keep_theirs(
    database: Database, due_desk: dict[str, int]
) -> None:
    """A resolved ticket past its Due under a level, a rejected one past its Due without a level:
    no time left (the Due column blank, no alarm); the active ones keep theirs, and the statement
    that says which are inactive (fast_sql.DUE_PAGE) agrees with each queue's lifecycle."""
    from tessera.core.fast_sql import DUE_PAGE, driver_execute
    from tessera.core.lifecycles.desk import lifecycle_of

    close_work(database, due_desk)
    with database.session() as session:
        ctx = open_context(session, "alice")
        left = {row.id: row.left for row in list_tickets(ctx, "General", time_left=True).rows}
        assert left[due_desk["done"]] is None and left[due_desk["hostile"]] is None
        assert left[due_desk["printer"]] == timedelta(hours=3)
        assert left[due_desk["laptop"]] == timedelta(hours=30)
        # a search spanning queues: the overdue one in Network is still overdue
        found = list_tickets(ctx, None, query="Due IS NOT NULL", time_left=True).rows
        assert {row.id: row.left for row in found}[due_desk["network"]] == -timedelta(minutes=5)
        every = session.scalars(select(Ticket)).all()
        ids = [t.id for t in every]
        inactive = driver_execute(session, DUE_PAGE, {"ids": ids}).fetchone()[2]
        expected = {t.id for t in every if lifecycle_of(session, t.queue).is_inactive(t.status)}
        assert set(inactive) == expected and {due_desk["done"], due_desk["hostile"]} <= expected


def test_the_quick_start_up_page_leaves_inactive_tickets_without_time_left(
    database: Database, due_desk: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    close_work(database, due_desk)
    left = quick_page_left(database, monkeypatch)
    assert left[due_desk["done"]] is None and left[due_desk["hostile"]] is None
    assert left[due_desk["printer"]] == timedelta(hours=3)


def test_a_resolved_tickets_level_reads_as_stopped_not_overdue_and_the_key_stays(
    database: Database, due_desk: dict[str, int]
) -> None:
    """The ticket pane's SLA line and the CLI/API's sla_time_left (null, the key kept)."""
    from tessera.core.listing import ticket_view
    from tessera.tui.ticket_pane import _sla_text

    close_work(database, due_desk)
    with database.session() as session:
        ctx = open_context(session, "alice")
        done = ticket_view(ctx, due_desk["done"], history_limit=1).ticket
        printer = ticket_view(ctx, due_desk["printer"], history_limit=1).ticket
    assert "sla_time_left" in done and done["sla_time_left"] is None and done["due"] is not None
    assert _sla_text(done) == "4h: no deadline running"
    assert printer["sla_time_left"] == 180 and _sla_text(printer) == "4h: 3h 00m left"

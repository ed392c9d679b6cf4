"""Snapshots of the main screens in both themes, at a fixed size, on a desk with fixed times.

Update after an intended change with `pytest tests/test_tui_snapshots.py --snapshot-update`
and review the SVGs (the HTML report shows the differences).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from tessera.core import clock
from tessera.core.db import Database
from tessera.core.models import Ticket, Transaction
from tessera.tui.app import TesseraApp
from tests.support.desks import build_desk
from tests.support.tui import FIXED_NOW, key, settle, until

pytest.importorskip("pytest_textual_snapshot")


@pytest.fixture
def fixed_desk(database: Database, tmp_path, monkeypatch) -> Iterator[dict[str, int]]:  # type: ignore[no-untyped-def]
    # a fixed path (no file there): the help screen shows it, and the snapshot must not vary
    monkeypatch.setenv("TESSERA_CONFIG_DIR", "/nonexistent/tessera-snapshot-config")
    clock.set_clock(lambda: FIXED_NOW)  # the Due column's time left is the desk's
    ids = build_desk(database)
    # Due: overdue, close (the warning look), comfortable, none
    dues = (FIXED_NOW - timedelta(hours=2), FIXED_NOW + timedelta(minutes=90), FIXED_NOW + timedelta(days=2))
    with database.session() as session:
        for n, ticket_id in enumerate(sorted(ids.values())):
            moment = FIXED_NOW - timedelta(days=n + 1, hours=3 * n)
            due = dues[n] if n < len(dues) else None
            session.execute(
                update(Ticket).where(Ticket.id == ticket_id).values(created=moment, updated=moment, due=due)
            )
            session.execute(
                update(Transaction).where(Transaction.ticket_id == ticket_id).values(created=moment)
            )
        session.commit()
    yield ids
    clock.set_clock(None)


def app_for(database: Database, theme: str) -> TesseraApp:
    return TesseraApp(lambda: database, user="alice", theme=theme, clock=lambda: FIXED_NOW)


async def ready(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.app.main.ready.wait()
    await settle(pilot)


async def ticket_open(pilot) -> None:  # type: ignore[no-untyped-def]
    await ready(pilot)
    screen = pilot.app.main
    screen.queue_pane.table.move_cursor(row=list(screen.queue_pane.rows).index(1))
    await pilot.press(key("queue.open"))
    await settle(pilot)
    await until(pilot, lambda: screen.ticket_pane.current is not None)
    screen.query_one("#history").scroll_home(animate=False)
    await pilot.pause()


async def help_open(pilot) -> None:  # type: ignore[no-untyped-def]
    from tessera.tui.screens import HelpScreen

    await ready(pilot)
    await pilot.press(key("help"))
    await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_queue_screen(snap_compare, database: Database, fixed_desk, theme: str) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(database, theme), terminal_size=(120, 36), run_before=ready)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_ticket_open(snap_compare, database: Database, fixed_desk, theme: str) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(database, theme), terminal_size=(120, 36), run_before=ticket_open)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_help_screen(snap_compare, database: Database, fixed_desk, theme: str) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(database, theme), terminal_size=(100, 40), run_before=help_open)


def test_small_terminal(snap_compare, database: Database, fixed_desk) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(database, "light"), terminal_size=(80, 24), run_before=ticket_open)


def test_no_color(snap_compare, database: Database, fixed_desk, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(app_for(database, "light"), terminal_size=(120, 36), run_before=ticket_open)

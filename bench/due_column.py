"""What the queue list's Due column costs: a page with its business time left vs the same page without.

Run: TESSERA_DATA_DIR=DIR .venv/bin/python bench/due_column.py [--runs 31] [--levels 100]

The desk is the 10,000-ticket demo desk (`tessera demo`) of `$TESSERA_DATA_DIR`'s embedded server
(seed it first: `tessera demo --tickets 10000`; a desk without tickets stops the run). Once per
desk the run applies a calendar (Mon-Fri 09:00-17:00, Europe/Paris, French public holidays) and a
level on it, and gives that level to the `--levels` tickets the first page shows first (`ticket
set SLA=` through core: their Due becomes the level's), so the page mixes tickets on the calendar
(business time), tickets with a hand-set Due and no level (real time) and tickets without a Due.

Timed, interleaved, `--runs` times each (the median and every run are printed, with the load):
* core: one page of the biggest queue, 100 rows as the TUI asks (`listing.list_tickets` on an open
  context), with `time_left=True` (the Due column's figures: the levels, calendars and inactive
  rows read once, the business time of each row) and without;
* TUI: the queue pane's reload in a headless app (120x40): from `load_tickets` until the page's
  rows are in the table and painted, with the Due column's figures and without them (the request
  made without `time_left`, so every Due cell is empty).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CALENDAR = """\
name: bench-office
timezone: Europe/Paris
hours: {mon-fri: 09:00-17:00}
holidays: {country: FR}
"""
LEVELS = """\
levels:
  bench-4h: {calendar: bench-office, response: 4h, resolve: 40h}
"""


def show(label: str, runs: list[float]) -> None:
    print(f"{label}: median {statistics.median(runs):.2f} ms; runs: {' '.join(f'{r:.2f}' for r in runs)}")


def prepare(db: Any, user: str, levels: int) -> tuple[int, str]:
    """The biggest queue's id and name; the calendar, the level, and `levels` tickets under it."""
    from sqlalchemy import func, select

    from tessera.core import sla, tickets
    from tessera.core.calendar_store import apply_calendars
    from tessera.core.context import open_context
    from tessera.core.listing import list_tickets
    from tessera.core.models import Queue, Ticket

    with db.session() as session:
        ctx = open_context(session, user)
        queue_id, name = session.execute(
            select(Queue.id, Queue.name)
            .join(Ticket, Ticket.queue_id == Queue.id)
            .group_by(Queue.id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        apply_calendars(ctx, CALENDAR)
        sla.apply_service_levels(ctx, LEVELS)
        session.commit()
        page = list_tickets(ctx, queue_id, limit=levels)
        todo = [r.id for r in page.rows if r.sla != "bench-4h"]
    for ticket_id in todo:
        with db.session() as session:
            tickets.set_fields(open_context(session, user), ticket_id, {"sla": "bench-4h"})
            session.commit()
    return queue_id, name


def core_runs(db: Any, user: str, queue_id: int, runs: int) -> tuple[list[float], list[float]]:
    from tessera.core.context import open_context
    from tessera.core.listing import list_tickets

    with_due: list[float] = []
    without: list[float] = []
    with db.session() as session:
        ctx = open_context(session, user)
        for n in range(runs + 2):
            for flag, out in ((True, with_due), (False, without)):
                started = time.perf_counter()
                page = list_tickets(ctx, queue_id, limit=100, time_left=flag)
                took = (time.perf_counter() - started) * 1000
                session.rollback()
                if n >= 2:  # two warm-up rounds
                    out.append(took)
        assert page.rows
    return with_due, without


async def tui_runs(
    db: Any, user: str, name: str, runs: int
) -> tuple[list[float], list[float], dict[str, int]]:
    from tessera.tui import queue_view
    from tessera.tui.app import TesseraApp

    app = TesseraApp(lambda: db, user=user)
    with_due: list[float] = []
    without: list[float] = []
    shown: dict[str, int] = {}
    real_request = queue_view.QueueView.request

    def bare_request(self: Any, queue: Any, after: Any = None) -> Any:
        target, options = real_request(self, queue, after)
        options.pop("time_left", None)
        return target, options

    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.main
        await screen.ready.wait()
        pane = screen.queue_pane
        for _ in range(100):
            await pilot.pause(0.05)
            if pane.rows:
                break
        pane.choose_queue(next(q for q in pane.queues if q.name == name))
        await pilot.pause(0.5)
        pane.set_sort("updated") if pane.view.sort != "updated" else None
        await pilot.pause(0.5)
        for n in range(runs + 2):
            for flag, out in ((True, with_due), (False, without)):
                queue_view.QueueView.request = real_request if flag else bare_request  # type: ignore[method-assign]
                pane.table.clear()
                pane.table.tickets.clear()
                await pilot.pause()
                started = time.perf_counter()
                pane.load_tickets()
                while not pane.table.row_count:
                    await asyncio.sleep(0.001)
                await pilot.pause()  # painted
                took = (time.perf_counter() - started) * 1000
                if n >= 2:
                    out.append(took)
                if flag:
                    shown = {
                        "rows": len(pane.rows),
                        "with a Due": sum(r.due is not None for r in pane.rows.values()),
                        "under the level": sum(r.sla == "bench-4h" for r in pane.rows.values()),
                    }
        queue_view.QueueView.request = real_request  # type: ignore[method-assign]
    return with_due, without, shown


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--levels", type=int, default=100, help="tickets of the first page given the level")
    parser.add_argument("--user", default="root")
    args = parser.parse_args()

    from tessera.core.bootstrap import open_desk

    db = open_desk()
    queue_id, name = prepare(db, args.user, args.levels)
    print(f"queue {name}; load before: {os.getloadavg()}")
    core_with, core_without = core_runs(db, args.user, queue_id, args.runs)
    show("core page, with time left   ", core_with)
    show("core page, without          ", core_without)
    tui_with, tui_without, shown = asyncio.run(tui_runs(db, args.user, name, args.runs))
    print(f"TUI page: {shown}")
    show("TUI page shown, with Due    ", tui_with)
    show("TUI page shown, without     ", tui_without)
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

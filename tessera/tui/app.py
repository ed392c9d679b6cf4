"""The Tessera TUI: queue pane, ticket-detail pane and history pane, keyboard first.

State lives in the main screen; every database call runs in a worker (`asyncio.to_thread` through
`Backend`), and its result is applied on the event loop. Ticket verbs work on the marked set when
there is one, else on the open ticket (from the detail/history panes) or the highlighted row.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import WorkerCancelled, WorkerFailed

from tessera.core.errors import DatabaseUnavailable, TesseraError
from tessera.core.listing import QueueInfo, TicketPage, TicketRow, TicketView, view_sort
from tessera.tui import drafts, remote, review, safe
from tessera.tui import history as history_text
from tessera.tui.actions import ACTIONS, SCOPES, bindings, effective_keys
from tessera.tui.backend import DEMO_TICKETS, Backend, FirstScreen, FirstScreenHelper, Outcome, Startup
from tessera.tui.footer import QuietFooter
from tessera.tui.history import size_text, when
from tessera.tui.keymap import keymap_path, load_keymap
from tessera.tui.review import ReviewScreen, render_plan
from tessera.tui.screens import (
    Choice,
    ComposeScreen,
    ConfirmScreen,
    EditScreen,
    HelpScreen,
    PickerScreen,
    PromptScreen,
    SearchScreen,
)
from tessera.tui.themes import DARK, LIGHT, THEMES, short_name, theme_name

if TYPE_CHECKING:
    from tessera.core.db import Database

T = TypeVar("T")
HELPER_WAIT_S = 0.3  # at mount, for the start-up helper still reading the first screen
PAGE = 100
COLUMNS = (
    ("flag", "  ", 2),
    ("id", "ID", 9),
    ("subject", "Subject", 28),
    ("status", "Status", 8),
    ("owner", "Owner", 8),
    ("priority", "Pri", 3),
    ("created", "Age", 4),
    ("updated", "Updated", 7),
    ("requestor", "Requestor", 18),
)
SORT_LABELS = {key: label for key, label, _width in COLUMNS if key != "flag"}
SORT_LABELS.update(created="Age (created)", updated="Last update", priority="Priority")
DESCENDING_FIRST = {"updated", "created", "priority", "id"}
RETRY_SECONDS = 5
NARROW_TERMINAL = 100  # columns: below this the queue list hides (Q picks a queue)
SHORT_TERMINAL = 40  # rows: below this the focused half of the screen gets most of it
LIVE_DELAY = 0.2  # seconds to gather notices before reloading (a burst of changes, one reload)
PREF_THEME = "theme"
PREF_VIEW = "tui.view"


def age(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return ""
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "<1m"
    for size, unit in ((31_536_000, "y"), (604_800, "w"), (86_400, "d"), (3_600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "<1m"


class TicketTable(DataTable[Any]):
    BINDINGS = bindings("queue")


class QueueList(OptionList):
    BINDINGS = bindings("queues")


class ReadPane(VerticalScroll):
    """The detail and history panes: scrollable, read-only, with vim keys."""

    BINDINGS = bindings("history")


class HistoryPane(ReadPane):
    """The history pane: tells the screen when the reader reaches the top (to lay out earlier ones)."""

    class ReachedTop(Message):
        def __init__(self, everything: bool) -> None:
            super().__init__()
            self.everything = everything

    # Set before earlier transactions are laid out above: the distance from the reading position
    # to the end, kept when the content grows, so the reader stays where they were.
    keep_from_end: float | None = None

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value <= 0 < old_value:
            self.post_message(self.ReachedTop(everything=False))

    def watch_virtual_size(self, size: Size) -> None:
        if self.keep_from_end is not None:
            self.scroll_to(y=size.height - self.keep_from_end, animate=False)
            self.keep_from_end = None

    def action_scroll_home(self) -> None:
        self.post_message(self.ReachedTop(everything=True))
        super().action_scroll_home()


class MainScreen(Screen[None]):
    BINDINGS = bindings("ticket") + bindings("global")  # the verbs first: a narrow footer keeps them

    def __init__(self) -> None:
        super().__init__(id="main")
        self.backend: Backend | None = None
        self.queues: list[QueueInfo] = []
        self.queue: QueueInfo | None = None
        self.rows: dict[int, TicketRow] = {}
        self.next_cursor: tuple[Any, int] | None = None
        self.sort = "updated"
        self.descending = True
        self.filter_text = ""
        # A TicketSQL view (search bar or saved view) across every queue; "" shows the chosen queue.
        self.search_query = ""
        self.marked: set[int] = set()
        self.current: TicketView | None = None
        self.history_mode = history_text.EVERYTHING
        self.show_trace = False
        self.history_window = history_text.PAGE  # how many of the newest transactions are laid out
        self.loading_more = False
        self._filter_timer: Timer | None = None
        self._retry: Timer | None = None
        self.ready = asyncio.Event()
        # Live updates: ids of tickets others changed, gathered for a moment, then reloaded.
        self._live_stop = threading.Event()
        self._live_timer: Timer | None = None
        self._live_ids: set[int] | None = set()

    @property
    def tui(self) -> TesseraApp:
        return self.app  # type: ignore[return-value]

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("Tessera", id="topbar")
        yield Static("", id="banner")
        with Vertical(id="panes"):
            with Horizontal(id="queue-pane", classes="pane"):
                yield QueueList(id="queues")
                with Vertical(id="ticket-list"):
                    table = TicketTable(id="tickets", cursor_type="row", zebra_stripes=False)
                    for key, label, width in COLUMNS:
                        table.add_column(label, key=key, width=width)
                    yield table
                    yield Static("", id="empty")
                    yield Input(
                        placeholder="filter: subject words, a number, a status, an owner", id="filter"
                    )
            with Horizontal(id="reading"):
                with ReadPane(id="detail", classes="pane"):
                    hint = Text("No ticket open: highlight one and press enter", style="dim")
                    yield Static(hint, id="detail-body")
                with HistoryPane(id="history", classes="pane"):
                    yield Static("", id="history-body")
        yield QuietFooter()

    def on_mount(self) -> None:
        self.query_one("#detail").border_title = "Ticket"
        self.query_one("#history").border_title = "History"
        self.query_one("#queue-pane").border_title = "Queue"
        self.query_one("#filter").display = False
        self.query_one("#banner").display = False
        self.query_one("#empty").display = False
        self.query_one(TicketTable).focus()
        if not self.start_from_helper():
            self.start()

    @property
    def table(self) -> TicketTable:
        return self.query_one(TicketTable)

    # On a short terminal (80×24 over SSH) the pane in use gets the room: the list while you
    # pick, the ticket while you read (lazygit's accordion), instead of a fixed split of both.
    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height < SHORT_TERMINAL, "-short")
        # At 80 columns the queue list would leave the tickets too little room: Q picks a queue.
        self.set_class(event.size.width < NARROW_TERMINAL, "-narrow")
        self.update_topbar()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        reading = event.widget in (self.query_one("#detail"), self.query_one("#history"))
        self.set_class(reading, "-reading")

    def update_topbar(self) -> None:
        bar = Text()
        bar.append(" Tessera ", style="bold reverse")
        if self.backend and self.backend.user:
            bar.append("  user ")
            bar.append(safe.clean_line(self.backend.user), style="bold")
        if self.search_query:
            bar.append("  search ")
            bar.append(safe.clean_line(self.search_query), style="bold")
        elif self.queue:
            bar.append("  queue ")
            bar.append(safe.clean_line(self.queue.name), style="bold")
        arrow = "↓" if self.descending else "↑"
        bar.append(f"  sort {SORT_LABELS[self.sort].lower()} {arrow}")
        if self.filter_text:
            bar.append("  filter ")
            bar.append(safe.clean_line(self.filter_text), style="bold")
        if self.marked:
            bar.append(f"  {len(self.marked)} marked", style="bold")
        self.query_one("#topbar", Static).update(bar)
        pane = self.query_one("#queue-pane")
        count = f"{len(self.rows)}{'+' if self.next_cursor else ''}"
        title = "Search" if self.search_query else (self.queue.name if self.queue else "Queue")
        narrowed = f" · filter {safe.clean_line(self.filter_text)}" if self.filter_text else ""
        pane.border_title = f"{title} ({count}){narrowed}"
        pane.border_subtitle = "Q other queues" if self.has_class("-narrow") else ""
        self.show_empty()

    def show_empty(self) -> None:
        """An empty list says why, and how to get rows back, instead of showing nothing."""
        empty = self.query_one("#empty", Static)
        if self.rows or self.queue is None:
            empty.display = False
            return
        if self.filter_text:
            why = f"No tickets match the filter “{safe.clean_line(self.filter_text)}”: esc clears it."
        elif self.search_query:
            why = "No tickets match this search: F changes it, esc goes back to the queue."
        else:
            why = "This queue has no tickets."
        empty.update(Text(why, style="italic"))
        empty.display = True

    # -- database calls --------------------------------------------------------------------

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Run `fn` in a thread; a TesseraError becomes a notification (a lost database: a banner)."""
        try:
            result = await asyncio.to_thread(fn, *args, **kwargs)
        except DatabaseUnavailable as exc:
            if self.is_attached:
                self.set_offline(exc.message)
            return None
        except TesseraError as exc:
            self.notify(exc.message, severity="error", markup=False, timeout=8)
            return None
        if not self.is_attached:  # the app closed while the call ran: no screen to show it on
            return None
        self.set_offline(None)
        return result

    def set_offline(self, problem: str | None) -> None:
        """Show (or clear) the lost-database banner; while it shows, retry every few seconds."""
        found = self.query("#banner")
        if not found:  # the screen is being torn down (the app closing as a call returned)
            return
        banner = found.first(Static)
        if problem is None:
            if banner.display:
                banner.display = False
                if self._retry is not None:
                    self._retry.stop()
                    self._retry = None
                self.notify("Database reachable again", markup=False, timeout=3)
            return
        text = Text(" Database unreachable, retrying every 5 s; nothing you typed is lost: ", style="bold")
        text.append(safe.clean_line(problem))
        banner.update(text)
        banner.display = True
        if self._retry is None:
            self._retry = self.set_interval(RETRY_SECONDS, self.load_tickets)

    def start_from_helper(self) -> bool:
        """At mount: if the start-up helper is done, show what it read before the first paint
        (one render of the screen, rows and all, instead of an empty one and then the rows)."""
        helper = self.tui.first_screen
        # A moment's wait beats painting an empty "Queue (0)" that the rows replace a moment later.
        if helper is None or not helper.done(wait=HELPER_WAIT_S):
            return False
        first = helper.result()
        if first is None:
            return False
        self.backend = Backend(None, self.tui.user, opener=self.tui.database_factory, first=first)
        self.apply_startup(self.backend.startup(), first)
        self.after_first_page(first)
        return True

    @work(exclusive=True, group="startup")
    async def start(self) -> None:
        app = self.tui
        try:
            # Read by the start-up helper while this process drew (None: open the database here).
            first = await asyncio.to_thread(app.first_screen.result) if app.first_screen else None
            if first is not None:
                self.backend = Backend(None, app.user, opener=app.database_factory, first=first)
                info = self.backend.startup()  # what the helper read: no database, no thread
            else:
                db = await asyncio.to_thread(app.database_factory)
                self.backend = Backend(db, app.user)
                info = await asyncio.to_thread(self.backend.startup)
        except TesseraError as exc:
            app.fail(exc)
            return
        self.apply_startup(info, first)
        self.after_first_page(first)

    def apply_startup(self, info: Startup, first: FirstScreen | None) -> None:
        """The theme, saved view, queues and first page; on the loop, no waiting."""
        app = self.tui
        if app.requested_theme is None:
            app.theme = theme_name(str(info.preferences.get(PREF_THEME) or "")) or LIGHT
        view = info.preferences.get(PREF_VIEW)
        if isinstance(view, dict) and view.get("sort") in SORT_LABELS:
            self.sort = str(view["sort"])
            self.descending = bool(view.get("descending", True))
        if isinstance(view, dict) and isinstance(view.get("filter"), str) and view["filter"]:
            self.filter_text = view["filter"]
            field = self.query_one("#filter", Input)
            field.value = self.filter_text  # shown in the pane's title; / opens it again
        if isinstance(view, dict) and isinstance(view.get("search"), str):
            self.search_query = view["search"]
        preferred = view.get("queue") if isinstance(view, dict) else None
        # On an empty desk the seed question comes next: no "you can see no queues" warning first.
        self.set_queues(info.queues, preferred=preferred, quiet=info.empty and info.can_seed)
        self.set_interval(app.poll_seconds, self.poll)
        if first is None:  # else once the first page is on screen (it catches up with changes then)
            self.listen_live()
        self.update_topbar()
        for problem in app.keymap_problems:
            self.notify(problem, severity="warning", markup=False, timeout=10)
        if info.empty and info.can_seed:
            question = f"This desk has no tickets yet. Seed the demo desk ({app.demo_tickets} tickets)?"
            self.app.push_screen(ConfirmScreen(question), self._seed_answer)
        elif info.empty:
            self.notify("This desk has no tickets yet.", markup=False)
        self.ready.set()

    @work(group="startup-after")
    async def after_first_page(self, first: FirstScreen | None) -> None:
        """Once the first page is painted: open the database (if the helper read the page) and
        import what opening and changing a ticket need, in a thread, so the first enter does not
        wait. (Or, for bench/tui.py, note the time and exit.)"""
        app = self.tui
        for worker in [w for w in self.workers if w.group == "tickets"]:
            with contextlib.suppress(WorkerCancelled, WorkerFailed):  # a newer load, or reported
                await worker.wait()
        backend = self.backend
        assert backend is not None

        def first_page_shown() -> None:
            # `tessera` turns the collector off while it starts (tessera.cli.main.run). What start-up
            # made lives as long as the app: frozen, the first collections need not walk it (~40 ms).
            gc.freeze()
            gc.enable()
            if app.startup_probe is not None:
                Path(app.startup_probe).write_text(f"{time.time():.6f}\n")
                app.exit()
                return
            threading.Thread(target=backend.warm, name="tessera-warm", daemon=True).start()
            if first is not None:
                self.listen_live()

        self.call_after_refresh(first_page_shown)

    def _seed_answer(self, yes: bool | None) -> None:
        if yes:
            self.seed()

    @work(exclusive=True, group="seed")
    async def seed(self) -> None:
        assert self.backend is not None
        self.notify(f"Seeding {self.tui.demo_tickets} demo tickets…", markup=False)
        self.table.loading = True
        try:
            added = await self.db(self.backend.seed_demo, self.tui.demo_tickets)
            queues = await self.db(self.backend.queues)
        finally:
            self.table.loading = False
        if added is not None:
            self.notify(f"Demo desk ready: {added} tickets", markup=False)
        if queues is not None:
            self.set_queues(queues, preferred=None)

    def set_queues(self, queues: list[QueueInfo], preferred: object, quiet: bool = False) -> None:
        self.queues = queues
        listing = self.query_one(QueueList)
        listing.clear_options()
        listing.add_options([Option(safe.line(q.name), id=str(q.id)) for q in queues])
        chosen = next((q for q in queues if q.name == preferred), queues[0] if queues else None)
        if chosen is None:
            if not quiet:
                self.notify("You can see no queues.", severity="warning", markup=False)
            return
        listing.highlighted = queues.index(chosen)
        self.switch_queue(chosen, remember=False)

    def switch_queue(self, queue: QueueInfo, *, remember: bool = True) -> None:
        self.queue = queue
        self.marked.clear()
        wanted = None if self.search_query else queue.id  # as fetch_page asks
        page = self.backend.first_page(wanted, **self.page_options()) if self.backend else None
        if page is not None:
            self.show_page(page)  # what the start-up helper read: no worker, no wait
        else:
            self.load_tickets()
        if remember:
            self.remember_view()

    def remember_view(self) -> None:
        if self.backend and self.queue:
            value = {
                "queue": self.queue.name,
                "sort": self.sort,
                "descending": self.descending,
                "filter": self.filter_text,
                "search": self.search_query,
            }
            self.save_preference(PREF_VIEW, value)

    @work(group="prefs")
    async def save_preference(self, key: str, value: Any) -> None:
        if self.backend is not None:
            await self.db(self.backend.set_preference, key, value)

    @work(exclusive=True, group="tickets")
    async def load_tickets(self, keep: int | None = None) -> None:
        if self.backend is None or self.queue is None:
            return
        table = self.table
        # Show the loading indicator only when the page is slow, so a quick reload does not flicker
        # (and a loading table cannot take focus).
        had_focus = self.focused is table
        slow = self.set_timer(0.4, lambda: setattr(table, "loading", True))
        try:
            page = await self.fetch_page()
        finally:
            slow.stop()
            table.loading = False
            if had_focus and self.app.screen is self and self.focused is not table:
                table.focus()
        if page is not None:
            self.show_page(page, keep)

    def show_page(self, page: TicketPage, keep: int | None = None) -> None:
        """The table shows `page` (the cursor stays on `keep`, else on the row it was on)."""
        found = self.query(TicketTable)
        if not found:  # the screen is being torn down (the app closing as the page came)
            return
        table = found.first()
        if keep is None and table.row_count and table.cursor_row < table.row_count:
            keep = self.row_id(table.cursor_row)
        table.clear()
        self.rows.clear()
        self.add_rows(page.rows)
        self.next_cursor = page.next_cursor
        self.marked &= set(self.rows)
        if keep in self.rows:
            table.move_cursor(row=list(self.rows).index(keep))
        self.update_topbar()

    def page_options(self) -> dict[str, Any]:
        """What the view asks a page for: its search, sort, filter and size."""
        return {
            "query": self.search_query,
            "sort": self.sort,
            "descending": self.descending,
            "text": self.filter_text,
            "limit": PAGE,
        }

    async def fetch_page(self, after: Any = None) -> Any:
        """A page of what the view shows (queue or search, sort, filter), after `after` if given."""
        assert self.backend is not None and self.queue is not None
        options = self.page_options()
        if after is not None:
            options["after"] = after
        return await self.db(self.backend.tickets, None if self.search_query else self.queue.id, **options)

    @work(exclusive=True, group="more")
    async def load_more(self) -> None:
        if self.backend is None or self.queue is None or self.next_cursor is None or self.loading_more:
            return
        self.loading_more = True
        try:
            page = await self.fetch_page(after=self.next_cursor)
        finally:
            self.loading_more = False
        if page is None:
            return
        self.add_rows([r for r in page.rows if r.id not in self.rows])
        self.next_cursor = page.next_cursor
        self.update_topbar()

    def add_rows(self, rows: Iterable[TicketRow]) -> None:
        now = self.tui.clock()
        for row in rows:
            self.rows[row.id] = row
            self.table.add_row(*self.cells(row, now), key=str(row.id))

    def cells(self, row: TicketRow, now: datetime) -> list[Text]:
        weight = "bold" if row.unread else ""
        return [
            self.flag(row),
            Text(row.display_id, style=weight),
            safe.line(row.subject, weight),
            safe.line(row.status),
            safe.line(row.owner or "-"),
            Text(str(row.priority), justify="right"),
            Text(age(row.created, now)),
            Text(age(row.updated, now)),
            safe.line(row.requestor or "-"),
        ]

    def flag(self, row: TicketRow) -> Text:
        out = Text()
        out.append("✓" if row.id in self.marked else " ", style="bold")
        out.append("●" if row.unread else " ", style="bold")
        return out

    def refresh_row(self, ticket_id: int) -> None:
        row = self.rows.get(ticket_id)
        if row is None:
            return
        for column, cell in zip(COLUMNS, self.cells(row, self.tui.clock()), strict=True):
            self.table.update_cell(str(ticket_id), column[0], cell)

    def row_id(self, index: int) -> int | None:
        if 0 <= index < self.table.row_count:
            key = self.table.coordinate_to_cell_key((index, 0)).row_key  # type: ignore[arg-type]
            return int(str(key.value))
        return None

    # -- events ----------------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#queues")
    def _queue_chosen(self, event: OptionList.OptionSelected) -> None:
        queue = next((q for q in self.queues if str(q.id) == event.option.id), None)
        if queue is not None:
            self.search_query = ""  # choosing a queue leaves a search view
            self.switch_queue(queue)
            self.table.focus()

    @on(DataTable.RowHighlighted, "#tickets")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.next_cursor is not None and event.cursor_row >= self.table.row_count - 5:
            self.load_more()

    @on(DataTable.HeaderSelected, "#tickets")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key in SORT_LABELS:
            self.set_sort(key)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        value = event.value

        self._filter_timer = self.set_timer(0.25, lambda: self.set_filter(value))

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self.set_filter(event.value)
        event.input.display = False  # the top bar shows the filter; the rows get the room back
        self.table.focus()

    def set_filter(self, value: str) -> None:
        if value != self.filter_text:
            self.filter_text = value
            self.load_tickets()
            self.remember_view()

    @work(thread=True, exclusive=True, group="live")
    def listen_live(self) -> None:
        """PostgreSQL LISTEN in a thread: changes by others reach the screen within a second."""
        if self.backend is None:
            return
        self.backend.listen(lambda ids: self.app.call_from_thread(self._live_change, ids), self._live_stop)

    def _live_change(self, ids: set[int] | None) -> None:
        if ids is None or self._live_ids is None:
            self._live_ids = None
        else:
            self._live_ids |= ids
        if self._live_timer is None:
            self._live_timer = self.set_timer(LIVE_DELAY, self._apply_live)

    def _apply_live(self) -> None:
        """Reload the list (cursor kept) and the open ticket if it changed; never under a dialog."""
        self._live_timer = None
        if self.app.screen is not self or self.backend is None:
            self._live_timer = self.set_timer(LIVE_DELAY * 4, self._apply_live)
            return
        ids, self._live_ids = self._live_ids, set()
        self.load_tickets()
        if self.current is not None and (ids is None or self.current.ticket["id"] in ids):
            self.open_ticket(self.current.ticket["id"], focus=False)

    def on_unmount(self) -> None:
        self._live_stop.set()

    def poll(self) -> None:
        """Pick up changes others made, keeping the cursor; skipped while a dialog is open."""
        if self.app.screen is self and self.backend is not None:
            self.load_tickets()
            if self.current is not None:
                self.open_ticket(self.current.ticket["id"], focus=False)

    # -- navigation actions ----------------------------------------------------------------

    def panes(self) -> list[Any]:
        every = [self.query_one(QueueList), self.table, self.query_one("#detail"), self.query_one("#history")]
        return [pane for pane in every if pane.display]

    def _cycle(self, step: int) -> None:
        panes = self.panes()
        focused = self.focused
        here = panes.index(self.table) if self.table in panes else 0
        index = next((i for i, p in enumerate(panes) if focused is p), here)
        panes[(index + step) % len(panes)].focus()

    def action_next_pane(self) -> None:
        self._cycle(1)

    def action_prev_pane(self) -> None:
        self._cycle(-1)

    def action_back(self) -> None:
        if self.focused in (self.query_one("#detail"), self.query_one("#history"), self.query_one(QueueList)):
            self.table.focus()
            return
        self.app.exit()

    def action_cancel(self) -> None:
        field = self.query_one("#filter", Input)
        if self.search_query and not (field.display or self.filter_text):
            self.set_search("")
        elif field.display or self.filter_text:
            field.value = ""
            field.display = False
            self.set_filter("")
            self.table.focus()
        elif self.marked:
            marked = list(self.marked)
            self.marked.clear()
            for ticket_id in marked:
                self.refresh_row(ticket_id)
        self.update_topbar()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.tui.keymap, str(keymap_path())))

    def action_admin(self) -> None:
        """The admin area (scrips, templates, lifecycles, queues); core decides who gets in."""
        from tessera.tui.admin.screen import open_admin

        open_admin(self)

    def action_refresh(self) -> None:
        self.load_tickets()
        if self.current is not None:
            self.open_ticket(self.current.ticket["id"], focus=False)

    def action_toggle_theme(self) -> None:
        app = self.tui
        app.theme = LIGHT if app.theme == DARK else DARK
        self.save_preference(PREF_THEME, short_name(app.theme))
        self.notify(f"{short_name(app.theme).capitalize()} theme", markup=False, timeout=2)

    def action_first_row(self) -> None:
        if self.table.row_count:
            self.table.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.table.row_count:
            self.table.move_cursor(row=self.table.row_count - 1)
        if self.next_cursor is not None:
            self.load_more()

    def action_open_ticket(self) -> None:
        ticket_id = self.row_id(self.table.cursor_row)
        if ticket_id is not None:
            self.open_ticket(ticket_id, focus=True)

    def action_toggle_mark(self) -> None:
        ticket_id = self.row_id(self.table.cursor_row)
        if ticket_id is None:
            return
        self.marked.symmetric_difference_update({ticket_id})
        self.refresh_row(ticket_id)
        self.table.action_cursor_down()
        self.update_topbar()

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def set_search(self, query: str, order_by: str = "") -> None:
        """Show a TicketSQL view (every queue the user may see), or back to the queue with "".

        The view's order (a saved search's, or an ORDER BY in the query) becomes the pane's sort."""
        self.search_query = query
        sorting = view_sort(query, order_by) if query else None
        if sorting is not None:
            self.sort, self.descending = sorting
        self.load_tickets()
        self.remember_view()
        self.update_topbar()

    def action_search(self) -> None:
        if self.backend is None:
            return
        backend = self.backend
        screen = SearchScreen(self.search_query, backend.complete_query, backend.check_query)
        self.app.push_screen(screen, self._searched)

    def _searched(self, query: str | None) -> None:
        if query is not None:
            self.clear_quick_filter()  # a new search starts whole: a leftover / filter would hide rows
            self.set_search(query)
            self.table.focus()

    def clear_quick_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        field.display = False
        self.filter_text = ""

    @work(exclusive=True, group="views")
    async def action_views(self) -> None:
        if self.backend is None:
            return
        views = await self.db(self.backend.views)
        if views is None:
            return
        if not views:
            self.notify("No saved views yet: `tessera search save NAME 'QUERY'` makes one", markup=False)
            return
        choices = [
            Choice(str(i), f"{i}  {v.name}" if i <= 9 else v.name, ("shared: " if v.shared else "") + v.query)
            for i, v in enumerate(views, start=1)
        ]
        chosen = await self.app.push_screen_wait(PickerScreen("Saved views", choices))
        if chosen:
            view = views[int(chosen) - 1]
            self.set_search(view.query, view.order_by)

    @work(exclusive=True, group="views")
    async def action_view(self, number: int) -> None:
        if self.backend is None:
            return
        views = await self.db(self.backend.views)
        if views is None:
            return
        if not 1 <= number <= len(views):
            self.notify(f"No saved view {number} (there are {len(views)})", markup=False, timeout=3)
            return
        self.set_search(views[number - 1].query, views[number - 1].order_by)
        self.notify(f"View {number}: {views[number - 1].name}", markup=False, timeout=2)

    def action_sort(self) -> None:
        choices = [
            Choice(key, label, "current: press to flip" if key == self.sort else "")
            for key, label in SORT_LABELS.items()
        ]
        self.app.push_screen(PickerScreen("Sort by", choices), self._sort_chosen)

    def _sort_chosen(self, key: str | None) -> None:
        if key:
            self.set_sort(key)

    def set_sort(self, key: str) -> None:
        if key == self.sort:
            self.descending = not self.descending
        else:
            self.sort = key
            self.descending = key in DESCENDING_FIRST
        self.load_tickets()
        self.remember_view()
        self.update_topbar()

    def action_pick_queue(self) -> None:
        choices = [Choice(str(q.id), q.name, q.description) for q in self.queues]
        self.app.push_screen(PickerScreen("Queue", choices), self._queue_picked)

    def _queue_picked(self, value: str | None) -> None:
        queue = next((q for q in self.queues if str(q.id) == value), None)
        if queue is not None:
            self.query_one(QueueList).highlighted = self.queues.index(queue)
            self.search_query = ""  # choosing a queue leaves a search view
            self.switch_queue(queue)

    def _step_ticket(self, step: int) -> None:
        table = self.table
        if not table.row_count:
            return
        index = max(0, min(table.row_count - 1, table.cursor_row + step))
        table.move_cursor(row=index)
        ticket_id = self.row_id(index)
        if ticket_id is not None:
            self.open_ticket(ticket_id, focus=False)

    def action_next_ticket(self) -> None:
        self._step_ticket(1)

    def action_prev_ticket(self) -> None:
        self._step_ticket(-1)

    # -- the open ticket -------------------------------------------------------------------

    @work(exclusive=True, group="detail")
    async def open_ticket(self, ticket_id: int, focus: bool = False) -> None:
        if self.backend is None:
            return
        detail = self.query_one("#detail")
        slow = self.set_timer(0.4, lambda: setattr(detail, "loading", True))
        try:
            view = await self.db(self.backend.view, ticket_id)
        finally:
            slow.stop()
            detail.loading = False
        if view is None:
            return
        self.show_ticket(view)
        row = self.rows.get(ticket_id)
        if row is not None and row.unread:
            self.rows[ticket_id] = dataclasses.replace(row, unread=False)
            self.refresh_row(ticket_id)
        if focus:
            self.query_one("#history").focus()

    def show_ticket(self, view: TicketView) -> None:
        pane = self.query_one("#history", HistoryPane)
        same = self.current is not None and self.current.ticket["id"] == view.ticket["id"]
        if same and self.current is not None:
            # A refresh (yours or a live change): what was laid out stays, new transactions join it,
            # and the view follows the end only if you were at the end.
            self.history_window += max(0, len(view.history) - len(self.current.history))
        else:
            self.history_window = history_text.PAGE
        follow = not same or pane.is_vertical_scroll_end
        self.current = view
        self.query_one("#detail-body", Static).update(render_detail(view))
        self.query_one("#detail").border_title = safe.clean_line(view.ticket["display_id"])
        self.render_history_pane()
        if follow:
            pane.scroll_end(animate=False)

    def render_history_pane(self) -> None:
        if self.current is None:
            return
        events, mode, trace = self.current.history, self.history_mode, self.show_trace
        text = history_text.render_history(events, mode, trace, newest=self.history_window)
        self.query_one("#history-body", Static).update(text)
        self.query_one("#history").border_title = history_text.title(events, mode, trace)

    @on(HistoryPane.ReachedTop)
    def _history_top(self, event: HistoryPane.ReachedTop) -> None:
        if self.current is None:
            return
        events = self.current.history
        if not history_text.hidden(events, self.history_mode, self.history_window):
            return
        pane = self.query_one("#history", HistoryPane)
        if event.everything:
            self.history_window = len(events)
            self.render_history_pane()
            pane.call_after_refresh(pane.scroll_home, animate=False)
            return
        pane.keep_from_end = pane.virtual_size.height - pane.scroll_y
        self.history_window += history_text.PAGE
        self.render_history_pane()

    def action_history_filter(self) -> None:
        self.history_mode = history_text.next_mode(self.history_mode)
        self.render_history_pane()
        shown = history_text.MODES[self.history_mode] or "everything"
        self.notify(f"History: {shown}", markup=False, timeout=2)

    def action_toggle_trace(self) -> None:
        self.show_trace = not self.show_trace
        self.render_history_pane()
        self.notify(f"Scrip trace {'shown' if self.show_trace else 'hidden'}", markup=False, timeout=2)

    # -- ticket verbs ----------------------------------------------------------------------

    def targets(self) -> list[int]:
        if self.marked:
            return [t for t in self.rows if t in self.marked]
        if self.current is not None and self.focused in (
            self.query_one("#detail"),
            self.query_one("#history"),
        ):
            return [self.current.ticket["id"]]
        ticket_id = self.row_id(self.table.cursor_row)
        return [ticket_id] if ticket_id is not None else []

    def describe(self, ids: list[int]) -> str:
        if len(ids) == 1:
            row = self.rows.get(ids[0])
            if row is not None:
                return row.display_id
            if self.current is not None and self.current.ticket["id"] == ids[0]:
                return str(self.current.ticket["display_id"])
            return f"#{ids[0]}"
        return f"{len(ids)} tickets"

    def _need_targets(self) -> list[int] | None:
        ids = self.targets()
        if not ids:
            self.notify("No ticket: highlight one or mark some with x", severity="warning", markup=False)
            return None
        return ids

    def confirm_then(self, question: str, then: Callable[[], Any]) -> None:
        def answer(yes: bool | None) -> None:
            if yes:
                then()

        self.app.push_screen(ConfirmScreen(question), answer)

    @work(group="act")
    async def apply(
        self, verb: str, ids: list[int], call: Callable[[], Outcome], draft: Path | None = None
    ) -> None:
        outcome = await self.db(call)
        if draft is not None:
            if outcome is not None and not outcome.errors:
                drafts.remove(draft)
            else:
                self.notify(f"The message is kept as a draft in {draft}", severity="warning", markup=False)
        if outcome is None:
            return
        for error in outcome.errors:
            self.notify(error, severity="error", markup=False, timeout=8)
        if outcome.done:
            self.notify(f"{verb}: {self.describe(outcome.done)}", markup=False, timeout=3)
            self.marked -= set(outcome.done)
        self.load_tickets()
        if self.current is not None and self.current.ticket["id"] in ids:
            self.open_ticket(self.current.ticket["id"], focus=False)

    def action_reply(self) -> None:
        self.compose_message("reply")

    def action_comment(self) -> None:
        self.compose_message("comment")

    @work(group="compose")
    async def compose_message(self, kind: str) -> None:
        ids = self._need_targets()
        if ids is None or self.backend is None:
            return
        to: list[str] = []
        cc: list[str] = []
        if len(ids) == 1:
            view = self.current
            if view is None or view.ticket["id"] != ids[0]:
                view = await self.db(self.backend.view, ids[0], mark_seen=False)
                if view is None:
                    return
            to, cc = list(view.ticket["requestors"]), list(view.ticket["cc"])
        else:
            to = ["the requestors of each ticket"]
        draft = drafts.draft_path(self.backend.user or "me", kind, ids)
        backend = self.backend
        targets = self.describe(ids)
        while True:
            body = await self.app.push_screen_wait(ComposeScreen(kind, targets, to, cc, draft))
            if body is None:
                return
            # One ticket: the review shows what the scrips will mail with it (nothing is recorded).
            plan = None
            if len(ids) == 1:
                plan = await self.db(backend.message_preview, ids[0], kind, body)
            choice = await self.app.push_screen_wait(ReviewScreen(kind, targets, to, cc, body, plan))
            if choice != review.EDIT:
                break
        if choice == review.POSTPONE:
            self.notify(f"Draft kept in {draft}; it comes back next time", markup=False, timeout=4)
        elif choice == review.DISCARD:
            drafts.remove(draft)
            self.notify("Message discarded", markup=False, timeout=3)
        elif kind == "reply":
            self.apply("Replied", ids, lambda: backend.reply(ids, body), draft=draft)
        else:
            self.apply("Commented", ids, lambda: backend.comment(ids, body), draft=draft)

    @work(group="compose")
    async def action_status(self) -> None:
        ids = self._need_targets()
        if ids is None or self.backend is None:
            return
        choices = await self.db(self.backend.status_choices, ids[0])
        if choices is None:
            return
        if not choices:
            self.notify("The lifecycle allows you no status change here", severity="warning", markup=False)
            return
        picks = [Choice(c.status, c.label, f"→ {c.status} ({c.category})") for c in choices]
        status = await self.app.push_screen_wait(PickerScreen(f"Status of {self.describe(ids)}", picks))
        if not status:
            return
        backend = self.backend
        if not await self.confirm_status(ids, status):
            return
        self.apply(f"Status {status}", ids, lambda: backend.set_status(ids, status))

    async def confirm_status(self, ids: list[int], status: str | None) -> bool:
        """y/N before a status change; for one ticket, with the scrip dry-run (who gets mailed, what)."""
        assert self.backend is not None
        verb = f"Set {self.describe(ids)} to {status}?" if status else f"Resolve {self.describe(ids)}?"
        detail = None
        if len(ids) == 1:
            plan = await self.db(self.backend.status_preview, ids[0], status)
            if plan is None:
                return False
            verb = f"Set {self.describe(ids)} to {plan['status']}?"
            detail = render_plan(plan)
        return bool(await self.app.push_screen_wait(ConfirmScreen(verb, detail)))

    @work(group="compose")
    async def action_resolve(self) -> None:
        ids = self._need_targets()
        if ids is None or self.backend is None:
            return
        backend = self.backend
        if await self.confirm_status(ids, None):
            self.apply("Resolved", ids, lambda: backend.resolve(ids))

    def action_take(self) -> None:
        ids = self._need_targets()
        if ids is None or self.backend is None:
            return
        backend = self.backend

        def go() -> None:
            self.apply("Taken", ids, lambda: backend.take(ids))

        def steal() -> None:
            self.apply("Stolen", ids, lambda: backend.steal(ids))

        owner = self.owner_of(ids[0]) if len(ids) == 1 else None
        if len(ids) > 1:
            self.confirm_then(f"Take {self.describe(ids)}?", go)
        elif owner and owner != backend.user:
            # RT's rule: taking someone else's ticket is a steal; say so and ask, rather than refuse.
            self.confirm_then(f"{self.describe(ids)} is owned by {owner}. Steal it?", steal)
        else:
            go()

    def owner_of(self, ticket_id: int) -> str | None:
        if self.current is not None and self.current.ticket["id"] == ticket_id:
            owner = self.current.ticket.get("owner")
            return None if owner in (None, "", "Nobody") else str(owner)
        row = self.rows.get(ticket_id)
        return row.owner if row is not None and row.owner not in ("", "Nobody") else None

    @work(group="compose")
    async def action_assign(self) -> None:
        ids = self._need_targets()
        if ids is None or self.backend is None or self.queue is None:
            return
        names = await self.db(self.backend.owner_choices, self.queue.id)
        if names is None:
            return
        picks = [Choice("Nobody", "Nobody", "unassign"), *(Choice(n, n) for n in names)]
        backend = self.backend
        await self._pick_then_apply(
            ids,
            PickerScreen(f"Owner of {self.describe(ids)}", picks),
            "Give {targets} to {choice}?",
            "Owner {choice}",
            backend.assign,
        )

    @work(group="compose")
    async def action_move(self) -> None:
        ids = self._need_targets()
        if ids is None or self.backend is None:
            return
        picks = [Choice(q.name, q.name, q.description) for q in self.queues if q != self.queue]
        backend = self.backend
        await self._pick_then_apply(
            ids,
            PickerScreen(f"Move {self.describe(ids)} to", picks),
            "Move {targets} to {choice}?",
            "Moved to {choice}",
            backend.move,
        )

    async def _pick_then_apply(
        self,
        ids: list[int],
        picker: PickerScreen,
        question: str,
        done: str,
        act: Callable[[list[int], str], Outcome],
    ) -> None:
        """Pick a value, confirm when several tickets are affected, then apply it to each."""
        choice = await self.app.push_screen_wait(picker)
        if not choice:
            return
        if len(ids) > 1 and not await self.app.push_screen_wait(
            ConfirmScreen(question.format(targets=self.describe(ids), choice=choice))
        ):
            return
        self.apply(done.format(choice=choice), ids, lambda: act(ids, choice))

    @work(group="compose")
    async def action_edit(self) -> None:
        ids = self._need_targets()
        if ids is None or self.backend is None:
            return
        if len(ids) > 1:
            self.notify(
                "Edit works on one ticket: clear the marks with esc", severity="warning", markup=False
            )
            return
        view = self.current
        if view is None or view.ticket["id"] != ids[0]:
            view = await self.db(self.backend.view, ids[0], mark_seen=False)
            if view is None:
                return
        backend = self.backend
        version = int(view.ticket["version"])

        async def submit(changes: dict[str, str]) -> str | None:
            outcome = await self.db(backend.edit, ids[0], changes, version)
            if outcome is None:
                return "Not saved: the database did not answer (your changes are still here)"
            return "; ".join(outcome.errors) or None

        changes = await self.app.push_screen_wait(EditScreen(view.ticket, submit))
        if changes:
            self.notify(f"Saved: {self.describe(ids)}", markup=False, timeout=3)
            self.load_tickets()
            self.open_ticket(ids[0], focus=False)

    @work(group="compose")
    async def action_save_attachment(self) -> None:
        if self.current is None or self.backend is None:
            self.notify("Open a ticket first (enter)", severity="warning", markup=False)
            return
        files = [
            (att, event)
            for event in self.current.history
            for att in ((event.get("message") or {}).get("attachments") or [])
        ]
        if not files:
            self.notify("This ticket has no attachments", markup=False)
            return
        if remote.over_ssh():
            self.notify(remote.NO_SAVE, severity="warning", markup=False, timeout=8)
            return
        picks = [
            Choice(str(att["id"]), att["filename"] or f"attachment-{att['id']}", size_text(att["size"]))
            for att, _event in files
        ]
        chosen = (
            picks[0].value
            if len(picks) == 1
            else await self.app.push_screen_wait(PickerScreen("Save which attachment?", picks))
        )
        if not chosen:
            return
        name = safe_filename(next(c.label for c in picks if c.value == chosen))
        target = await self.app.push_screen_wait(PromptScreen("Save to", str(save_dir() / name)))
        if not target:
            return
        path = Path(target).expanduser()
        if path.exists() and not await self.app.push_screen_wait(ConfirmScreen(f"Overwrite {path}?")):
            return
        data = await self.db(self.backend.attachment, int(chosen))
        if data is None:
            return
        try:
            await asyncio.to_thread(path.write_bytes, data.data)
        except OSError as exc:
            self.notify(f"Cannot write {path}: {exc.strerror}", severity="error", markup=False)
            return
        self.notify(f"Saved {path} ({size_text(len(data.data))})", markup=False)


def save_dir() -> Path:
    """Where attachments are saved unless you say otherwise: ~/Downloads if it exists, else ~."""
    home = Path.home()
    downloads = home / "Downloads"
    return downloads if downloads.is_dir() else home


def safe_filename(name: str) -> str:
    cleaned = safe.clean_line(os.path.basename(name.replace("\\", "/"))).strip().lstrip(".")
    return cleaned or "attachment"


def _people(label: str, people: list[str], out: Text) -> None:
    out.append(f"{label:<11}", style="bold")
    out.append(safe.clean_line(", ".join(people) or "-"))
    out.append("\n")


def render_detail(view: TicketView) -> Text:
    t = view.ticket
    out = Text()
    out.append(safe.clean_line(t["display_id"]), style="bold")
    out.append("  ")
    out.append(safe.clean_line(t["subject"]), style="bold")
    out.append("\n\n")
    fields = [
        ("Queue", t["queue"]),
        ("Status", f"{t['status']} ({view.category or '?'}, lifecycle {view.lifecycle})"),
        ("Owner", t["owner"] or "Nobody"),
        ("Priority", f"{t['priority']} (initial {t['initial_priority']}, final {t['final_priority']})"),
        ("Created", when(t["created"])),
        ("Updated", when(t["updated"])),
        ("Started", when(t["started"])),
        ("Resolved", when(t["resolved"])),
        ("Due", when(t["due"])),
        ("Time", f"worked {t['time_worked']}m, estimated {t['time_estimated']}m, left {t['time_left']}m"),
    ]
    for label, value in fields:
        out.append(f"{label:<11}", style="bold")
        out.append(safe.clean_line(value))
        out.append("\n")
    out.append("\n")
    _people("Requestors", t["requestors"], out)
    _people("Cc", t["cc"], out)
    _people("AdminCc", t["admincc"], out)
    cfs = t.get("custom_fields") or {}
    if cfs:
        out.append("\nCustom fields\n", style="bold underline")
        for name, value in cfs.items():
            shown = ", ".join(value) if isinstance(value, list) else ("-" if value is None else str(value))
            out.append(f"  {safe.clean_line(name)}: ", style="bold")
            out.append(safe.clean_line(shown) + "\n")
    links = {k: v for k, v in (t.get("links") or {}).items() if v}
    if links or t.get("merged_from"):
        out.append("\nLinks\n", style="bold underline")
        for kind, ids in links.items():
            out.append(f"  {kind.replace('_', ' ')}: ", style="bold")
            out.append(", ".join(ids) + "\n")
        if t.get("merged_from"):
            out.append("  merged from: ", style="bold")
            out.append(", ".join(t["merged_from"]) + "\n")
    if view.choices:
        out.append("\nYou may: ", style="bold")
        out.append(", ".join(f"{c.label} (→{c.status})" for c in view.choices))
        out.append("\n")
    return out


class TesseraApp(App[None]):
    CSS_PATH = "tessera.tcss"
    TITLE = "Tessera"
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        database_factory: Callable[[], Database],
        *,
        user: str | None = None,
        theme: str | None = None,
        clock: Callable[[], datetime] | None = None,
        demo_tickets: int = DEMO_TICKETS,
        poll_seconds: float = 30,
        keymap_file: Path | None = None,
        first_screen: FirstScreenHelper | None = None,
    ) -> None:
        super().__init__()
        self.database_factory = database_factory
        self.first_screen = first_screen
        self.user = user
        self.requested_theme = theme_name(theme)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.demo_tickets = demo_tickets
        self.poll_seconds = poll_seconds
        self.error: TesseraError | None = None
        # Benchmarks only (bench/tui.py): write the time the first page is on screen there, then exit.
        self.startup_probe = os.environ.get("TESSERA_STARTUP_PROBE") or None
        for item in THEMES:
            self.register_theme(item)
        self.theme = self.requested_theme or LIGHT
        self.keymap, self.keymap_problems = load_keymap(keymap_file)
        if self.keymap:
            self.set_keymap(self.keymap)

    def on_mount(self) -> None:
        self.push_screen(MainScreen())

    @property
    def main(self) -> MainScreen:
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def fail(self, error: TesseraError) -> None:
        self.error = error
        self.exit(return_code=error.exit_code)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for spec in ACTIONS:
            if not spec.palette or spec.id == "palette":
                continue
            keys = " / ".join(effective_keys(spec, self.keymap))
            yield SystemCommand(
                f"{spec.description}  ({keys})",
                SCOPES[spec.scope],
                self._palette_callback(spec.palette_action),
            )
        yield from super().get_system_commands(screen)

    def _palette_callback(self, action: str) -> Callable[[], None]:
        def run() -> None:
            self.call_later(self.main.run_action, action)

        return run

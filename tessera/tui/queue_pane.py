"""The queue pane: the queues you may see beside the tickets of one view, a page at a time.

`QueuePane` owns the view (`view`: the queue or TicketSQL search, its sort and its quick filter,
saved as your preference whenever it changes) and pages it from the database through the
`Backend` it is given; `TicketTable` owns the rows it shows and the marks on them; `QueueList`
the queues. They talk by messages: the table posts `Opened` (enter on a row), `Marked`,
`SortAsked` (S) and `EndReached` (G); the list posts `Chosen`; the pane posts `Changed` whenever
what the top bar shows changed (view, rows, marks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import var
from textual.timer import Timer
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from tessera.core.ids import ticket_number
from tessera.core.listing import QueueInfo, TicketPage, TicketRow
from tessera.core.saved_views import View, view_sort
from tessera.tui import opening, safe, ticket_ops
from tessera.tui.actions import bindings
from tessera.tui.backend import Backend
from tessera.tui.keyhold import release_keys
from tessera.tui.pane_title import FocusTitle
from tessera.tui.queue_view import BREACHING_HOURS, PREF_VIEW, SORT_LABELS, QueueView
from tessera.tui.screens import Choice, ConfirmScreen, PickerScreen, PromptScreen
from tessera.tui.search_screens import SAVE_VIEW, SearchScreen, ViewsScreen
from tessera.tui.ticket_table import FILTER_DELAY, MORE_WITHIN, SLOW_PAGE, TicketTable


class QueueList(OptionList):
    """The queues you may see; choosing one (enter) posts `Chosen`."""

    BINDINGS = bindings("queues")

    class Chosen(Message):
        def __init__(self, queue: QueueInfo) -> None:
            super().__init__()
            self.queue = queue

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.queues: list[QueueInfo] = []

    def show(self, queues: list[QueueInfo], chosen: QueueInfo | None) -> None:
        self.queues = queues
        self.clear_options()
        self.add_options([Option(safe.line(q.name), id=str(q.id)) for q in queues])
        if chosen is not None:
            self.highlighted = queues.index(chosen)

    def find(self, value: str | None) -> QueueInfo | None:
        return next((q for q in self.queues if str(q.id) == value), None)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        queue = self.find(event.option.id)
        if queue is not None:
            self.post_message(self.Chosen(queue))


class QueuePane(FocusTitle, Horizontal):
    """The queue list and the ticket table of one view; see the module's docstring."""

    ALLOW_MAXIMIZE = True  # z maximises the whole pane (title, queue list, filter), not the table

    class Changed(Message):
        """What the top bar shows of this pane changed (view, rows or marks)."""

    class JumpAsked(Message):
        """A ticket number was typed in the search bar: open that ticket."""

        def __init__(self, ticket_id: int) -> None:
            super().__init__()
            self.ticket_id = ticket_id

    view: var[QueueView] = var(QueueView, init=False, always_update=True)
    narrow: var[bool] = var(False, init=False)  # the queue list is hidden: Q picks a queue

    def __init__(self, backend: Backend, clock: Callable[[], datetime]) -> None:
        super().__init__(id="queue-pane", classes="pane")
        self.backend = backend
        self.clock = clock
        self.queue: QueueInfo | None = None  # None until the first queue is shown
        self.next_cursor: tuple[Any, int] | None = None
        self.loading_more = False
        self._filter_timer: Timer | None = None
        self.opening: str | None = None  # while the desk opens: which step, for how long
        self.desk_empty = False  # the desk has no tickets: the empty list says what to do next
        self.rows_of: QueueView | None = None  # the view the table's rows were read for

    def compose(self) -> ComposeResult:
        yield QueueList(id="queues")
        with Vertical(id="ticket-list"):
            yield TicketTable(self.clock, id="tickets")
            yield Static("", id="empty")
            yield Input(placeholder="filter: subject words, a number, a status, an owner", id="filter")

    def on_mount(self) -> None:
        self.query_one("#filter").display = False  # until / opens it
        self.changed()  # the title, and the empty note hidden until there is a queue to show

    @property
    def table(self) -> TicketTable:
        return self.query_one(TicketTable)

    @property
    def queues(self) -> list[QueueInfo]:
        return self.query_one(QueueList).queues

    @property
    def rows(self) -> dict[int, TicketRow]:
        return self.table.tickets

    @property
    def marked(self) -> set[int]:
        return self.table.marked

    # -- what the pane shows ------------------------------------------------------------------------

    def start(self, queues: list[QueueInfo], view: QueueView, *, quiet: bool = False) -> None:
        """The saved `view` of these queues, shown without saving it again (at start-up)."""
        self.set_reactive(QueuePane.view, view)
        if view.filter:
            self.query_one("#filter", Input).value = view.filter  # the title shows it; / opens it
        self.show_queues(queues, view.queue, quiet=quiet)

    def show_queues(self, queues: list[QueueInfo], preferred: str | None, *, quiet: bool = False) -> None:
        """List `queues` and show the `preferred` one (else the first); say so if there are none."""
        chosen = next((q for q in queues if q.name == preferred), queues[0] if queues else None)
        self.query_one(QueueList).show(queues, chosen)
        if chosen is None:
            if not quiet:
                self.notify("You can see no queues.", severity="warning", markup=False)
            self.changed()  # the empty desk's note says how to make one
            return
        self.queue = chosen
        self.table.marked.clear()
        self.set_reactive(QueuePane.view, replace(self.view, queue=chosen.name))
        queue, options = self.view.request(chosen)
        page = self.backend.first_page(queue, **options)
        if page is not None:
            self.show_page(page)  # what the start-up helper read: no worker, no wait
        else:
            self.load_tickets()

    def refresh_queues(self, queues: list[QueueInfo]) -> None:
        """The queue list read again (a queue made or changed elsewhere): the shown queue and the
        highlighted one stay; when the shown queue is gone or renamed, it is shown as at start."""
        if queues == self.queues:
            return
        current = self.queue
        same = next((q for q in queues if current is not None and q.id == current.id), None)
        if current is None or same is None or same.name != current.name:
            self.show_queues(queues, same.name if same is not None else None)
            return
        listed = self.query_one(QueueList)
        lit = listed.highlighted
        lit_id = listed.queues[lit].id if lit is not None and lit < len(listed.queues) else current.id
        self.queue = same
        listed.show(queues, next((q for q in queues if q.id == lit_id), same))

    def choose_queue(self, queue: QueueInfo) -> None:
        """Show `queue` (leaving a search view), and remember it."""
        self.queue = queue
        self.table.marked.clear()
        self.view = self.view.home(queue.name)

    def watch_view(self, view: QueueView) -> None:
        if self.queue is None:
            return
        self.load_tickets()
        self.remember()
        self.changed()

    def watch_narrow(self) -> None:
        self.changed()

    def changed(self) -> None:
        """The pane's title and empty note follow what it shows; the screen hears `Changed`."""
        view = self.view
        count = f"{len(self.rows)}{'+' if self.next_cursor else ''}"
        if not _same_rows(self.rows_of, view):  # the rows are another view's: no figure until its own
            count = "…"
        # (a border title reads markup: names and filters are typed text, escaped)
        title = safe.markup_line(self.queue.name) if self.queue else "Queue"
        if view.search:  # a saved view by its name
            title = safe.markup_line(view.name) if view.name else "Search"
        if view.breaching:
            title = "Breaching soon"
        narrowed = f" · filter {safe.markup_line(view.filter)}" if view.filter else ""
        self.border_title = f"{title} ({count}){narrowed}"
        self.border_subtitle = "Q other queues" if self.narrow else ""
        self.show_empty()
        self.post_message(self.Changed())

    def show_empty(self) -> None:
        """An empty list says why, and how to get rows back, instead of showing nothing."""
        empty = self.query_one("#empty", Static)
        if self.rows:
            self.desk_empty = False
        if self.queue is None:
            note = self.opening or (opening.next_steps(None) if self.desk_empty else None)
            empty.display = note is not None
            if note is not None:
                empty.update(Text(note, style="italic"))
            return
        if self.rows:
            empty.display = False
            return
        if self.view.filter:
            why = f"No tickets match the filter “{safe.clean_line(self.view.filter)}”: esc clears it."
        elif self.view.breaching:
            why = (
                f"Nothing open is due within {BREACHING_HOURS} business hours, and nothing is overdue: "
                "q or esc goes back to the queue."
            )
        elif self.view.search:
            why = "No tickets match this search: F changes it, esc goes back to the queue."
        elif self.desk_empty:
            why = opening.next_steps(self.queue.name)
        else:
            why = "This queue has no tickets: n makes a new one."
        empty.update(Text(why, style="italic"))
        empty.display = True

    @work(group="prefs")
    async def remember(self) -> None:
        if self.queue is not None:
            await self.backend.ask(ticket_ops.set_preference, PREF_VIEW, self.view.preference())

    # -- pages ----------------------------------------------------------------------------------------

    @work(exclusive=True, group="tickets")
    async def load_tickets(self, keep: int | None = None) -> None:
        if self.queue is None or not self.is_attached:  # none chosen, or the app is closing
            return
        table, screen = self.table, self.screen
        field = self.query_one("#filter", Input)  # focus a reload must not take from you
        # Show the loading indicator only when the page is slow, so a quick reload does not flicker
        # (and a loading table cannot take focus).
        had_focus = screen.focused is table
        slow = self.set_timer(SLOW_PAGE, lambda: setattr(table, "loading", True))
        try:
            asked = self.view
            queue, options = asked.request(self.queue)
            page = await self.backend.ask(ticket_ops.tickets, queue, **options)
        finally:
            slow.stop()
            table.loading = False
            # Give the table back the focus it lost to the loading indicator, but not the focus
            # you moved elsewhere meanwhile (enter on a row opens the ticket in the history pane).
            focused = screen.focused
            lost = focused is None or (focused not in (table, field) and self in focused.ancestors)
            if had_focus and lost and self.app.screen is screen:
                table.focus()
        if page is not None:
            self.show_page(page, keep, asked)

    def show_page(self, page: TicketPage, keep: int | None = None, view: QueueView | None = None) -> None:
        """The table shows `page` of `view` (default: the one shown); the cursor stays on `keep`,
        else on the row it was on."""
        if not self.is_attached:  # the screen is being torn down (the app closing as the page came)
            return
        self.table.show(page.rows, keep)
        self.next_cursor = page.next_cursor
        self.rows_of = view or self.view
        self.changed()

    @work(exclusive=True, group="more")
    async def load_more(self) -> None:
        if self.queue is None or self.next_cursor is None or self.loading_more:
            return
        self.loading_more = True
        try:
            queue, options = self.view.request(self.queue, after=self.next_cursor)
            page = await self.backend.ask(ticket_ops.tickets, queue, **options)
        finally:
            self.loading_more = False
        if page is None:
            return
        self.table.add([r for r in page.rows if r.id not in self.rows])
        self.next_cursor = page.next_cursor
        self.changed()

    @on(DataTable.RowHighlighted, "#tickets")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.next_cursor is not None and event.cursor_row >= self.table.row_count - MORE_WITHIN:
            self.load_more()

    @on(TicketTable.EndReached)
    def _end(self, event: TicketTable.EndReached) -> None:
        event.stop()
        if self.next_cursor is not None:
            self.load_more()

    @on(TicketTable.Marked)
    def _marked(self, event: TicketTable.Marked) -> None:
        event.stop()
        self.changed()

    # -- changing the view ----------------------------------------------------------------------------

    @on(QueueList.Chosen)
    def _queue_chosen(self, event: QueueList.Chosen) -> None:
        event.stop()
        self.choose_queue(event.queue)
        self.table.focus()

    @on(DataTable.HeaderSelected, "#tickets")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key in SORT_LABELS:
            self.set_sort(key)

    @on(TicketTable.SortAsked)
    def _sort_asked(self, event: TicketTable.SortAsked) -> None:
        event.stop()
        choices = [
            Choice(key, label, "current: press to flip" if key == self.view.sort else "")
            for key, label in SORT_LABELS.items()
        ]
        self.app.push_screen(PickerScreen("Sort by", choices), self._sort_chosen)

    def _sort_chosen(self, key: str | None) -> None:
        if key:
            self.set_sort(key)

    def set_sort(self, key: str) -> None:
        self.view = self.view.sorted_by(key)

    def set_filter(self, value: str) -> None:
        if value != self.view.filter:
            self.view = replace(self.view, filter=value)

    def toggle_breaching(self) -> None:
        """The "breaching soon" view (every queue's open tickets due within BREACHING business
        hours or overdue, soonest first), or back to the queue if it shows already."""
        self.view = self.view.home() if self.view.breaching else self.view.breaching_soon()
        self.table.focus()

    def set_search(self, query: str, order_by: str = "", name: str = "") -> None:
        """Show a TicketSQL view (every queue the user may see; `name`: the saved view's), or back
        to the queue with "".

        The view's order (a saved search's, or an ORDER BY in the query) becomes the pane's sort;
        leaving the search puts the queue's own sort back."""
        if query:
            self.view = self.view.searching(query, view_sort(query, order_by), name)
        else:
            self.view = self.view.home()

    def back_to_queue(self) -> bool:
        """q: leave a search (or saved view) and any quick filter, back to the queue's own rows
        and sort. False when the pane already shows the plain queue (q then quits)."""
        field = self.query_one("#filter", Input)
        if not (self.view.search or self.view.breaching or self.view.filter or field.display):
            return False
        self._stop_filter_timer()
        field.value = ""
        field.display = False
        self.view = replace(self.view.home(), filter="")
        self.table.focus()
        return True

    def open_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        # At once, not after the keys already waiting: "/vpn" typed in one go filters by "vpn".
        self.screen.set_focus(field)

    def _stop_filter_timer(self) -> None:
        """No quick filter still to run (one typed a moment ago would undo what follows)."""
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._stop_filter_timer()
        value = event.value
        if value != self.view.filter:
            self._filter_timer = self.set_timer(FILTER_DELAY, lambda: self.set_filter(value))

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self._stop_filter_timer()
        self.set_filter(event.value)
        event.input.display = False  # the top bar shows the filter; the rows get the room back
        self.table.focus()

    def cancel(self) -> None:
        """Escape: leave a search, else clear the quick filter, else clear the marks."""
        field = self.query_one("#filter", Input)
        if (self.view.search or self.view.breaching) and not (field.display or self.view.filter):
            self.set_search("")
        elif field.display or self.view.filter:
            self._stop_filter_timer()
            field.value = ""
            field.display = False
            self.set_filter("")
            self.table.focus()
        elif self.marked:
            self.table.unmark(list(self.marked))
        self.changed()

    def search(self) -> None:
        """F: a TicketSQL query, with completion; a new search starts without the quick filter."""
        self.app.push_screen(SearchScreen(self.view.search, self.backend), self._searched)

    def _searched(self, query: str | None) -> None:
        if query is None:
            release_keys(self.app)
            return
        number = ticket_number(query)
        if number is not None:
            self.post_message(self.JumpAsked(number))  # the view stays as it was; keys held till it shows
            return
        field = self.query_one("#filter", Input)  # a leftover / filter would hide rows
        self._stop_filter_timer()
        field.value = ""
        field.display = False
        self.set_reactive(QueuePane.view, replace(self.view, filter=""))
        self.set_search(query)
        self.table.focus()
        release_keys(self.app)  # the keys held since enter act on the search's list

    @work(exclusive=True, group="queue-picker")
    async def pick_queue(self) -> None:
        """Q: choose a queue from a picker (the queue list may be hidden on a narrow terminal),
        each with its count of active tickets and of those nobody owns."""
        found = await self.backend.ask(ticket_ops.queue_picker)
        if found is None:
            return
        queues, counts = found
        self.refresh_queues(queues)  # a queue made elsewhere since the list was read shows too

        def detail(queue: QueueInfo) -> str:
            count = counts.get(queue.id)
            numbers = f"{count.active} active, {count.unowned} unowned" if count else ""
            return "  ".join(part for part in (numbers, queue.description) if part)

        choices = [Choice(str(q.id), q.name, detail(q)) for q in self.queues]
        self._queue_picked(await self.app.push_screen_wait(PickerScreen("Queue", choices)))

    def _queue_picked(self, value: str | None) -> None:
        queues = self.query_one(QueueList)
        queue = queues.find(value)
        if queue is not None:
            queues.highlighted = self.queues.index(queue)
            self.choose_queue(queue)

    @work(exclusive=True, group="views")
    async def choose_saved_view(self) -> None:
        """V: your saved views and the shared ones: show one, save this list as one, rename or
        delete one; the list comes back after a rename or delete."""
        while True:
            views = await self.backend.ask(ticket_ops.views)
            if views is None:
                return
            chosen = await self.app.push_screen_wait(ViewsScreen(views))
            if chosen is None:
                return
            if chosen == SAVE_VIEW:
                await self._save_view(views)
                return
            what, index = chosen.split(":")
            view = views[int(index)]
            if what == "show":
                self.set_search(view.query, view.order_by, view.name)
                return
            if what == "rename":
                prompt = PromptScreen(f"Rename the view {view.name} to", view.name)
                name = await self.app.push_screen_wait(prompt)
                if name and name.strip() != view.name:
                    done = await self.backend.ask(ticket_ops.rename_view, view.name, name, view.shared)
                    if done is not None:
                        self.notify(f"View renamed: {done.name}", markup=False, timeout=3)
            elif what == "delete":
                whose = "shared view" if view.shared else "view"
                if await self.app.push_screen_wait(ConfirmScreen(f"Delete the {whose} {view.name}?")):
                    await self.backend.ask(ticket_ops.delete_view, view.name, view.shared)
                    self.notify(f"View deleted: {view.name}", markup=False, timeout=3)

    @work(exclusive=True, group="views")
    async def save_view(self) -> None:
        """W: save what the list shows (its queue or search, its filter, its order) as a view."""
        if self.view.breaching:  # its cutoff is business time from now: no TicketSQL says that
            self.notify("Breaching soon is built in: D shows it from anywhere.", markup=False, timeout=4)
            return
        views = await self.backend.ask(ticket_ops.views)
        if views is not None:
            await self._save_view(views)

    async def _save_view(self, views: list[View]) -> None:
        name = await self.app.push_screen_wait(PromptScreen("Save this list as a view named"))
        if not name or not name.strip():
            return
        name = name.strip()
        whose = [Choice("mine", "Mine", "only you see it"), Choice("shared", "Shared", "every agent sees it")]
        scope = await self.app.push_screen_wait(PickerScreen(f"Who sees the view {name}?", whose))
        if scope is None:
            return
        shared = scope == "shared"
        same = next((v for v in views if v.shared == shared and v.name.lower() == name.lower()), None)
        if same is not None and not await self.app.push_screen_wait(
            ConfirmScreen(f"Replace the view {same.name} ({same.query})?")
        ):
            return
        view = self.view
        saved = await self.backend.ask(
            ticket_ops.save_view,
            name,
            queue=self.queue.name if self.queue is not None else None,
            query=view.search,
            words=view.filter,
            sort=view.sort,
            descending=view.descending,
            shared=shared,
        )
        if saved is not None:
            whose_text = "shared" if saved.shared else "yours"
            self.notify(f"Saved view {saved.name} ({whose_text}): {saved.query}", markup=False, timeout=5)
            if view.search and self.view == view:  # the search shown is now that view: named so
                named = replace(view, name=saved.name)
                if self.rows_of == view:  # the same rows, under the view's name
                    self.rows_of = named
                self.set_reactive(QueuePane.view, named)
                self.remember()
                self.changed()

    @work(exclusive=True, group="views")
    async def show_saved_view(self, number: int) -> None:
        """1-9: saved view number `number` (the keys typed after the digit wait until it shows:
        `MainScreen.action_view`)."""
        try:
            views = await self.backend.ask(ticket_ops.views)
            if views is None:
                return
            if not 1 <= number <= len(views):
                self.notify(f"No saved view {number} (there are {len(views)})", markup=False, timeout=3)
                return
            self.set_search(views[number - 1].query, views[number - 1].order_by, views[number - 1].name)
            self.notify(f"View {number}: {views[number - 1].name}", markup=False, timeout=2)
        finally:
            release_keys(self.app)


def _same_rows(a: QueueView | None, b: QueueView) -> bool:
    """Whether two views list the same rows (in any order): a count read for one holds for the other."""
    return a is not None and replace(a, sort=b.sort, descending=b.descending, queue_sort=b.queue_sort) == b

"""The main screen: the top bar, the lost-database banner, the queue pane above the reading panes,
and the footer; keyboard first.

The screen lays out its components and carries messages between them; each owns its own state:
`QueuePane` what the queue pane shows (its view, rows and marks), `TicketPane` the open ticket and
its history, `TicketVerbs` the ticket verbs, `LiveUpdates` the changes others make, `TopBar` and
`OfflineBanner` their lines. Each is given the app's `Backend` when it is made. The screen owns
the start-up (the first screen shown before the first paint when the start-up helper has read it),
the keys of the `global` and `ticket` scopes (ticket verbs work from every pane, and while the list
loads, so the screen binds them), and which tickets a verb acts on: the marked set when there is
one, else the open ticket (from the detail/history panes) or the highlighted row.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, cast

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable
from textual.worker import WorkerCancelled, WorkerFailed

from tessera.core.errors import TesseraError
from tessera.tui import drafts, opening, ticket_ops
from tessera.tui.actions import ActionSpec, bindings
from tessera.tui.backend import Backend, FirstScreen, FirstScreenHelper
from tessera.tui.bars import BarState, OfflineBanner, TopBar
from tessera.tui.footer import QuietFooter
from tessera.tui.frames import hold_frame
from tessera.tui.keyhold import hold_keys, release_keys
from tessera.tui.keymap import keymap_path
from tessera.tui.live_updates import LiveUpdates
from tessera.tui.queue_pane import QueueList, QueuePane
from tessera.tui.queue_view import PREF_VIEW, QueueView
from tessera.tui.quoting import PREF_QUOTE
from tessera.tui.screens import ConfirmScreen, HelpScreen
from tessera.tui.themes import DARK, LIGHT, short_name, theme_name
from tessera.tui.ticket_ops import Startup
from tessera.tui.ticket_pane import TicketPane
from tessera.tui.ticket_table import TicketTable
from tessera.tui.verbs import Targets, TicketVerbs


class Host(Protocol):
    """What the main screen reads of its app (`tessera.tui.app.TesseraApp`, which imports this
    module, so it is named by what it offers, not imported)."""

    theme: str
    requested_theme: str | None
    clock: Callable[[], datetime]
    poll_seconds: float
    demo_tickets: int
    first_screen: FirstScreenHelper | None
    startup_probe: str | None
    keymap: dict[str, str]
    keymap_problems: list[str]

    def fail(self, error: TesseraError) -> None: ...


HELPER_WAIT_S = 0.3  # at mount, for the start-up helper still reading the first screen
NARROW_TERMINAL = 100  # columns: below this the queue list hides (Q picks a queue)
SHORT_TERMINAL = 40  # rows: below this the focused half of the screen gets most of it
PREF_THEME = "theme"


class MainScreen(Screen[None]):
    BINDINGS = bindings("ticket") + bindings("global")  # the verbs first: a narrow footer keeps them
    AUTO_FOCUS = "#tickets"  # the list has the focus from the first frame
    # Textual's screen repaints all of itself when the focus moves (its `focused` reactive
    # repaints); the widgets that gain and lose the focus repaint themselves, so this one does not:
    # a whole-screen redraw was ~40 ms of each enter, J and q.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    def __init__(self, backend: Backend) -> None:
        super().__init__(id="main")
        self.backend = backend
        self.ready = asyncio.Event()  # set once the first screen's data is shown
        self.started = False  # the start-up data is in (the user is known)
        self.quote_replies = True  # r quotes the message answered (the `tui.quote` preference)
        self._reading = False  # the focus is in the detail or history pane
        self._jumping: int | None = None  # a ticket asked for by number, not yet shown

    def _update_focus_styles(self, focused: Widget | None = None, blurred: Widget | None = None) -> None:
        # Textual restyles everything under a widget with a `:focus-within` rule when the focus
        # comes or goes (the queue pane's table, list and filter, the history's text and
        # scrollbars: ~15 ms of each enter and q, several times that on a loaded machine). The
        # panes' rule (tessera.tcss) styles the pane alone, so only the panes are restyled.
        nodes = {
            node
            for widget in (focused, blurred)
            if widget is not None
            for node in widget.ancestors_with_self
            if node._has_focus_within
        }
        if any(not node.has_class("pane") for node in nodes):
            super()._update_focus_styles(focused, blurred)
        elif nodes:
            self.app.stylesheet.update_nodes(nodes, animate=True)

    @property
    def tui(self) -> Host:
        return cast(Host, self.app)

    # -- layout -------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        app = self.tui
        self.top_bar = TopBar("Tessera", id="topbar")
        self.banner = OfflineBanner(id="banner")
        self.queue_pane = QueuePane(self.backend, app.clock)
        self.ticket_pane = TicketPane(self.backend)
        self.verbs = TicketVerbs(self.backend)
        self.live = LiveUpdates(self.backend, app.poll_seconds)
        yield self.top_bar
        yield self.banner
        with Vertical(id="panes"):
            yield self.queue_pane
            yield self.ticket_pane
        yield QuietFooter()
        yield self.verbs
        yield self.live

    def on_mount(self) -> None:
        self.queue_pane.table.focus()
        if not self.start_from_helper():
            self.show_opening()
            self.start()

    def show_opening(self) -> None:
        """Until the first page: the list says which step of opening the desk is under way, and
        for how long (on a fresh data dir that is seconds: initdb, start, migrations)."""
        began = time.monotonic()
        pane = self.queue_pane

        def tick() -> None:
            if self.started:
                timer.stop()
                return
            pane.opening = opening.progress(time.monotonic() - began)
            pane.show_empty()

        timer = self.set_interval(0.25, tick)
        tick()

    # On a short terminal (80×24 over SSH) the pane in use gets the room: the list while you
    # pick, the ticket while you read (lazygit's accordion), instead of a fixed split of both.
    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height < SHORT_TERMINAL, "-short")
        self._set_reading_class()
        # At 80 columns the queue list would leave the tickets too little room: Q picks a queue.
        narrow = event.size.width < NARROW_TERMINAL
        self.set_class(narrow, "-narrow")
        self.queue_pane.narrow = narrow
        self.query_one(QuietFooter).compact = narrow  # the footer's keys fit at 80 columns
        # Redraw the lines that say where you are on every resize. At start-up the screen's first
        # frame is drawn while the app's own start-up batch is open, and Textual drops it; the
        # next frame repaints only what changed since, which without this is the rows alone.
        self.queue_pane.changed()
        self.top_bar.redraw()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._reading = self.ticket_pane.is_reading_pane(event.widget)
        self._set_reading_class()

    def _set_reading_class(self) -> None:
        # `-reading` changes only a short screen's layout: set only there, as a class change on the
        # screen restyles every widget on it (a keypress's worth of time at each enter and q).
        self.set_class(self._reading and self.has_class("-short"), "-reading")

    def set_offline(self, problem: str | None) -> None:
        """Show (or clear) the lost-database banner (the app's Reporter calls this)."""
        if self.is_attached:  # not while the screen is being torn down (the app closing)
            self.banner.problem = problem

    # -- start-up -----------------------------------------------------------------------------------

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
        self.apply_startup(self.backend.adopt(first), first)
        self.after_first_page(first)
        return True

    @work(exclusive=True, group="startup")
    async def start(self) -> None:
        app = self.tui
        try:
            # Read by the start-up helper while this process drew (None: open the database here).
            first = await asyncio.to_thread(app.first_screen.result) if app.first_screen else None
            if first is not None:
                info = self.backend.adopt(first)  # what the helper read: no database, no thread
            else:
                info = await self.backend.call(ticket_ops.startup)
                self.backend.user = info.user
        except TesseraError as exc:
            app.fail(exc)
            return
        self.apply_startup(info, first)
        self.after_first_page(first)

    def apply_startup(self, info: Startup, first: FirstScreen | None) -> None:
        """The theme, saved view, queues and first page; on the loop, no waiting."""
        app = self.tui
        self.started = True
        if app.requested_theme is None:
            app.theme = theme_name(str(info.preferences.get(PREF_THEME) or "")) or LIGHT
        self.quote_replies = info.preferences.get(PREF_QUOTE) is not False
        view = QueueView.from_preference(info.preferences.get(PREF_VIEW))
        self.queue_pane.opening = None
        self.queue_pane.desk_empty = info.empty  # its empty list says what to do next
        # On an empty desk the seed question comes next: no "you can see no queues" warning first.
        self.queue_pane.start(info.queues, view, quiet=info.empty and info.can_seed)
        # With a helper, listen once the first page is on screen (it catches up with changes then).
        self.live.start(listen=first is None)
        self.update_top_bar()
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

        def warm() -> None:
            backend.warm()
            # What warming imported lives as long as the app too: a full collection walking it
            # took 100-150 ms of a key's frame.
            gc.freeze()

        def first_page_shown() -> None:
            # `tessera` turns the collector off while it starts (tessera.cli.main.run). What start-up
            # made lives as long as the app: frozen, the first collections need not walk it (~40 ms).
            gc.freeze()
            gc.enable()
            if app.startup_probe is not None:
                Path(app.startup_probe).write_text(f"{time.time():.6f}\n")
                self.app.exit()
                return
            threading.Thread(target=warm, name="tessera-warm", daemon=True).start()
            if first is not None:
                self.live.listen()

        self.call_after_refresh(first_page_shown)

    def _seed_answer(self, yes: bool | None) -> None:
        if yes:
            self.seed()

    @work(exclusive=True, group="seed")
    async def seed(self) -> None:
        table = self.queue_pane.table
        self.notify(f"Seeding {self.tui.demo_tickets} demo tickets…", markup=False)
        table.loading = True
        try:
            added = await self.backend.ask(ticket_ops.seed_demo, self.tui.demo_tickets)
            queues = await self.backend.ask(ticket_ops.queues)
        finally:
            table.loading = False
        if added is not None:
            self.notify(f"Demo desk ready: {added} tickets", markup=False)
        if queues is not None:
            self.queue_pane.show_queues(queues, preferred=None)

    # -- what the panes tell each other ------------------------------------------------------------

    def update_top_bar(self) -> None:
        pane = self.queue_pane
        view = pane.view
        self.top_bar.state = BarState(
            user=self.backend.user if self.started else None,
            search=view.search,
            queue=pane.queue.name if pane.queue is not None else None,
            sort=view.sort,
            descending=view.descending,
            filter=view.filter,
            marked=len(pane.marked),
            breaching=view.breaching,
            view_name=view.name,
        )

    @on(QueuePane.Changed)
    def _queue_pane_changed(self) -> None:
        self.update_top_bar()

    @on(TicketTable.Opened)
    def _opened(self, event: TicketTable.Opened) -> None:
        self.ticket_pane.open_ticket(event.ticket_id, focus=True)

    @on(QueuePane.JumpAsked)
    def _jump_asked(self, event: QueuePane.JumpAsked) -> None:
        """A number entered in the search bar: the keys typed after it wait (held since enter)
        until its ticket shows, or could not be read (`TicketPane.ReadFailed`)."""
        self._jumping = event.ticket_id
        self.jump_to(event.ticket_id)

    def jump_to(self, ticket_id: int) -> None:
        """Open ticket `ticket_id` (a number typed in the search bar or the palette), from any
        queue; the list's cursor goes to its row when the list shows it."""
        pane = self.queue_pane
        if ticket_id in pane.rows:
            pane.table.move_cursor(row=list(pane.rows).index(ticket_id))
        self.ticket_pane.open_ticket(ticket_id, focus=True)

    @on(TicketPane.ReadFailed)
    def _read_failed(self, event: TicketPane.ReadFailed) -> None:
        if self._jumping == event.ticket_id:
            self._jumping = None
            release_keys(self.app)

    @on(TicketPane.Shown)
    def _shown(self, event: TicketPane.Shown) -> None:
        if self._jumping == event.ticket_id:
            self._jumping = None
            release_keys(self.app)
        table = self.queue_pane.table
        table.mark_read(event.ticket_id)
        # What J and K open next, read ahead.
        row = table.cursor_row
        neighbours = (table.row_id(row + 1), table.row_id(row - 1))
        self.ticket_pane.prefetch([t for t in neighbours if t is not None])

    @on(DataTable.RowHighlighted, "#tickets")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The cursor came to rest on a row: read its ticket ahead, so enter shows it at once."""
        ticket_id = self.queue_pane.table.row_id(event.cursor_row)
        if ticket_id is not None and ticket_id != self.ticket_pane.current_id:
            self.ticket_pane.prefetch([ticket_id])

    @on(LiveUpdates.Changed)
    def _others_changed(self, event: LiveUpdates.Changed) -> None:
        """Reload the list (cursor kept) and the open ticket if it changed."""
        self.ticket_pane.forget(event.ids)
        self.queue_pane.load_tickets()
        current = self.ticket_pane.current_id
        if current is not None and (event.ids is None or current in event.ids):
            self.ticket_pane.reopen()

    @on(LiveUpdates.QueuesChanged)
    @work(exclusive=True, group="queues")
    async def _queues_changed(self) -> None:
        """A queue was created or changed (by the CLI, another agent, the admin screen)."""
        queues = await self.backend.ask(ticket_ops.queues)
        if queues is not None:
            self.queue_pane.refresh_queues(queues)

    @on(OfflineBanner.Retry)
    def _retry(self) -> None:
        self.queue_pane.load_tickets()

    @on(TicketVerbs.Applied)
    def _applied(self, event: TicketVerbs.Applied) -> None:
        self.ticket_pane.forget(event.ids)
        self.queue_pane.table.unmark(event.done)
        self.queue_pane.load_tickets()
        # What you just did shows at the end of the history: the ticket you changed is opened (or
        # reloaded) and its history follows the new transaction, wherever it was scrolled.
        if len(event.ids) == 1 and event.done:
            self.ticket_pane.open_ticket(event.ids[0], focus=False, follow=True)
        elif self.ticket_pane.current_id in event.ids:
            self.ticket_pane.reopen(follow=True)
        self.update_top_bar()

    @on(TicketVerbs.Created)
    def _created(self, event: TicketVerbs.Created) -> None:
        self.ticket_pane.forget(None)  # the ticket it was split or linked from, say
        self.queue_pane.load_tickets(keep=event.ticket_id)
        self.ticket_pane.open_ticket(event.ticket_id, focus=True, follow=True)

    @on(TicketVerbs.Saved)
    def _saved(self, event: TicketVerbs.Saved) -> None:
        self.ticket_pane.forget(None)  # links name other tickets too
        self.queue_pane.load_tickets()
        self.ticket_pane.open_ticket(event.ticket_id, focus=False, follow=True)

    # -- which tickets a verb acts on ---------------------------------------------------------------

    def targets(self) -> Targets:
        """The marked set; else the open ticket from the reading panes; else the highlighted row.

        In the list, a reload that hid the row you had chosen (a filter, a change by someone else)
        leaves the cursor on a row you did not choose: the verb then acts on the ticket the panes
        show if that is the one you had chosen, and otherwise asks first, naming the row (`unsure`)."""
        pane, reading = self.queue_pane, self.ticket_pane
        current = reading.current
        unsure = False
        table = pane.table
        if pane.marked:
            ids = [t for t in pane.rows if t in pane.marked]
        elif current is not None and reading.reading:
            ids = [current.ticket["id"]]
        elif table.drifted and current is not None and table.chosen == current.ticket["id"]:
            ids = [current.ticket["id"]]  # the ticket shown, which the list no longer highlights
        else:
            highlighted = table.highlighted_id
            ids = [highlighted] if highlighted is not None else []
            unsure = bool(ids) and table.drifted
        names = {current.ticket["id"]: str(current.ticket["display_id"])} if current is not None else {}
        names.update({row.id: row.display_id for row in pane.rows.values()})
        subjects = {current.ticket["id"]: str(current.ticket["subject"])} if current is not None else {}
        subjects.update({row.id: row.subject for row in pane.rows.values() if row.id in ids})
        return Targets(
            ids,
            names=names,
            subjects=subjects,
            owners={ids[0]: self._owner_of(ids[0])} if ids else {},
            view=current,
            queue=pane.queue,
            queues=pane.queues,
            unsure=unsure,
        )

    def act(self, verb: str, run: Callable[[Targets], object]) -> None:
        """Run a verb on the targets; when the list moved under the cursor, ask first (y/N)."""
        targets = self.targets()
        if not targets.unsure:
            run(targets)
            return
        question = (
            f"{verb} {targets.describe()} ({targets.subjects.get(targets.ids[0], '')})? The list changed "
            "under the cursor: this is the row it landed on, not the ticket you had chosen."
        )

        def answer(yes: bool | None) -> None:
            if yes:
                run(targets)

        self.app.push_screen(ConfirmScreen(question), answer)

    def _owner_of(self, ticket_id: int) -> str | None:
        current = self.ticket_pane.current
        if current is not None and current.ticket["id"] == ticket_id:
            owner = current.ticket.get("owner")
            return None if owner in (None, "", "Nobody") else str(owner)
        row = self.queue_pane.rows.get(ticket_id)
        return row.owner if row is not None and row.owner not in ("", "Nobody") else None

    # -- the `ticket` scope: verbs on the targets -----------------------------------------------------

    def action_reply(self, quote: bool | None = None) -> None:
        """r: a reply starting with the answered message quoted (unless turned off); R: blank."""
        quoted = self.quote_replies if quote is None else quote
        self.act("Reply to", lambda t: self.verbs.compose_message("reply", t, quote=quoted))

    def action_comment(self) -> None:
        self.act("Comment on", lambda t: self.verbs.compose_message("comment", t))

    def action_forward(self) -> None:
        self.act("Forward", self.verbs.forward)

    def action_status(self) -> None:
        self.act("Change the status of", self.verbs.status)

    def action_resolve(self) -> None:
        self.act("Resolve", self.verbs.resolve)

    def action_take(self) -> None:
        self.act("Take", self.verbs.take)

    def action_bookmark(self) -> None:
        self.act("Bookmark", self.verbs.bookmark)

    def action_reminders(self) -> None:
        self.act("Reminders", self.verbs.reminders)

    def action_assign(self) -> None:
        self.act("Assign", self.verbs.assign)

    def action_move(self) -> None:
        self.act("Move", self.verbs.move)

    def action_edit(self) -> None:
        self.act("Edit", self.verbs.edit)

    def action_save_attachment(self) -> None:
        self.verbs.save_attachment(self.ticket_pane.current)

    def action_next_ticket(self) -> None:
        self._step_ticket(1)

    def action_prev_ticket(self) -> None:
        self._step_ticket(-1)

    def _step_ticket(self, step: int) -> None:
        ticket_id = self.queue_pane.table.step(step)
        if ticket_id is not None:
            self.ticket_pane.open_ticket(ticket_id, focus=False)

    def action_history_filter(self) -> None:
        self.ticket_pane.cycle_history_filter()

    def action_toggle_trace(self) -> None:
        self.ticket_pane.toggle_trace()

    # -- the `global` scope -------------------------------------------------------------------------

    def panes(self) -> list[Any]:
        every = [
            self.query_one(QueueList),
            self.queue_pane.table,
            self.query_one("#detail"),
            self.ticket_pane.history,
        ]
        return [pane for pane in every if pane.display]

    def _cycle(self, step: int) -> None:
        panes = self.panes()
        table = self.queue_pane.table
        here = panes.index(table) if table in panes else 0
        index = next((i for i, p in enumerate(panes) if self.focused is p), here)
        panes[(index + step) % len(panes)].focus()

    def action_next_pane(self) -> None:
        self._cycle(1)

    def action_prev_pane(self) -> None:
        self._cycle(-1)

    def action_maximize(self) -> None:
        """z: the focused pane fills the screen (the list with its queue list, the detail or the
        history pane); z again, q or esc puts it back."""
        if self.maximized is not None:
            self.minimize()
            return
        focused = self.focused
        if self.ticket_pane.is_reading_pane(focused) and focused is not None:
            self.maximize(focused, container=False)
        else:
            self.maximize(self.queue_pane, container=False)

    def action_back(self) -> None:
        """q: back one level (a maximised pane → restored; reading panes or queue list → the list;
        a search, saved view or filter → the queue); from the plain queue, quit (asking only if a
        draft is unsent)."""
        if self.maximized is not None:
            self.minimize()
            return
        if self.ticket_pane.reading or self.focused is self.query_one(QueueList):
            self.queue_pane.table.focus()
            hold_frame(self.app)
            return
        if self.queue_pane.back_to_queue():
            return
        self.request_quit()

    def request_quit(self) -> None:
        """Quit, unless something would be lost: then ask (y/N), saying what stays where."""
        from tessera.tui.screens import ComposeScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, ComposeScreen):
                screen.save_draft()  # what was typed in the last moment, too
        waiting = drafts.pending(self.backend.user or "me")
        if not waiting:
            self.app.exit()
            return
        listed = drafts.describe(waiting[:3])
        more = f" and {len(waiting) - 3} more" if len(waiting) > 3 else ""
        many = "s" if len(waiting) > 1 else ""
        question = f"Quit with {len(waiting)} unsent draft{many} ({listed}{more})?"
        detail = Text(f"They stay in {drafts.drafts_dir()} and come back when you write to the ticket again.")

        def answer(yes: bool | None) -> None:
            if yes:
                self.app.exit()

        self.app.push_screen(ConfirmScreen(question, detail), answer)

    def action_cancel(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        self.queue_pane.cancel()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.tui.keymap, str(keymap_path())))

    def action_admin(self) -> None:
        """The admin area (scrips, templates, lifecycles, queues); core decides who gets in."""
        from tessera.tui.admin.screen import open_admin  # not on the start path

        hold_keys(self.app)  # F9 3 typed at once: the 3 picks the admin area's tab, once it shows
        self.run_worker(open_admin(self.app, self.backend), group="admin-open", exclusive=True)

    def action_refresh(self) -> None:
        self.ticket_pane.forget(None)
        self.queue_pane.load_tickets()
        self.ticket_pane.reopen()

    def action_toggle_theme(self) -> None:
        app = self.tui
        app.theme = LIGHT if app.theme == DARK else DARK
        self.save_theme(short_name(app.theme))
        self.notify(f"{short_name(app.theme).capitalize()} theme", markup=False, timeout=2)

    @work(group="prefs")
    async def save_theme(self, name: str) -> None:
        await self.backend.ask(ticket_ops.set_preference, PREF_THEME, name)

    def action_toggle_quote(self) -> None:
        self.quote_replies = not self.quote_replies
        self.save_quote(self.quote_replies)
        state = "start with the message they answer quoted" if self.quote_replies else "start blank"
        self.notify(f"Replies {state}", markup=False, timeout=3)

    @work(group="prefs")
    async def save_quote(self, on: bool) -> None:
        await self.backend.ask(ticket_ops.set_preference, PREF_QUOTE, on)

    def action_filter(self) -> None:
        self.queue_pane.open_filter()

    def action_search(self) -> None:
        if self.ready.is_set():
            self.queue_pane.search()

    def action_views(self) -> None:
        if self.ready.is_set():
            self.queue_pane.choose_saved_view()

    def action_create(self) -> None:
        if self.ready.is_set():
            self.verbs.create(self.queue_pane.queue, self.queue_pane.queues)

    def action_save_view(self) -> None:
        if self.ready.is_set():
            self.queue_pane.save_view()

    def action_view(self, number: int) -> None:
        if self.ready.is_set():
            # The keys typed after the digit act on the view once it shows (q typed at once goes
            # back to the queue; it quit from the queue the view had not yet replaced).
            hold_keys(self.app)
            self.queue_pane.show_saved_view(number)

    def action_pick_queue(self) -> None:
        self.queue_pane.pick_queue()

    def action_breaching(self) -> None:
        """D: the "breaching soon" view; D again (or q, esc) goes back to the queue."""
        if self.ready.is_set():
            self.queue_pane.toggle_breaching()

    async def run_palette_action(self, spec: ActionSpec) -> None:
        """A command chosen in the palette, run where its keys are bound."""
        owner = self.queue_pane.table if spec.scope == "queue" else self
        await owner.run_action(spec.action)

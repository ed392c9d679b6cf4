"""The reading panes: the open ticket's fields (detail) beside its transactions (history).

`TicketPane` owns which ticket is open (`current`), what the history shows (`history_mode`, the
scrip trace `show_trace`) and how much of it is laid out (the newest `history_window`
transactions; scrolling to the top lays out earlier ones, as `HistoryPane.ReachedTop` asks). It
loads a ticket through the `Backend` it is given and posts `Shown` once it is on screen (the
queue pane then drops the row's unread mark).

A ticket is read with only the newest page of its history (`history_text.PAGE` transactions, read
in SQL): a long history costs opening nothing. The ticket the list's cursor rests on, and the
open ticket's neighbours (what J and K open), are read ahead (`prefetch`, not marked seen): enter
then shows what was read at once and reads the ticket again behind it (marking it seen), and shows
that only if it differs. What was read ahead is dropped when the ticket changes (`forget`) and is
never used once `PREFETCH_FRESH` seconds old. `current.history` is then the newest part of it,
and earlier pages are read as the reader scrolls up (or `g`, or a history filter that shows too
few), and put before it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import var

from tessera.core import priorities
from tessera.core.errors import TesseraError
from tessera.core.listing import TicketView
from tessera.tui import history as history_text
from tessera.tui import safe, ticket_ops
from tessera.tui.backend import Backend
from tessera.tui.frames import hold_frame
from tessera.tui.history import when
from tessera.tui.history_view import DetailPane, HistoryPane, Laid

SLOW_TICKET = 0.4  # seconds before a ticket still loading shows the loading indicator
EARLIER_PAGE = 100  # transactions read at a time when scrolling up past what was read
PREFETCH_DELAY = 0.3  # seconds the cursor rests on a row (or a ticket shows) before reading ahead
CONFIRM_DELAY = 0.1  # seconds after a ticket read ahead is drawn before it is read again
PREFETCH_FRESH = 15.0  # seconds a ticket read ahead may be shown before its own read comes back
PREFETCH_KEEP = 8  # tickets kept read ahead


@dataclasses.dataclass(eq=False)
class _LaidTicket:
    view: TicketView
    mode: tuple[str, bool]  # the history filter and trace it was laid out in
    detail: Laid
    history: Laid


class TicketPane(Horizontal):
    """The detail and history panes of the open ticket; see the module's docstring."""

    class Shown(Message):
        """Ticket `ticket_id` was loaded (and marked seen) and is on screen."""

        def __init__(self, ticket_id: int) -> None:
            super().__init__()
            self.ticket_id = ticket_id

    class ReadFailed(Message):
        """Ticket `ticket_id` could not be read (refused or gone: the refusal was said)."""

        def __init__(self, ticket_id: int) -> None:
            super().__init__()
            self.ticket_id = ticket_id

    current: var[TicketView | None] = var(None, init=False)
    history_mode: var[str] = var(history_text.EVERYTHING, init=False)
    show_trace: var[bool] = var(False, init=False)

    def __init__(self, backend: Backend) -> None:
        super().__init__(id="reading")
        self.backend = backend
        self.history_window = history_text.PAGE  # how many of the newest transactions are laid out
        self._laid_out_for: int | None = None  # the width messages were laid out to
        # Tickets read ahead: id -> (when read, the view); `_generation` moves on every `forget`,
        # so a read that started before a change is not kept.
        self._ahead: dict[int, tuple[float, TicketView]] = {}
        self._laid: dict[int, _LaidTicket] = {}  # tickets read ahead, laid out for the panes
        self._generation = 0

    def compose(self) -> ComposeResult:
        yield DetailPane(id="detail", classes="pane")
        yield HistoryPane(id="history", classes="pane")

    def on_mount(self) -> None:
        detail = self.query_one("#detail", DetailPane)
        detail.border_title = "Ticket"
        detail.show_blocks([Text("No ticket open: highlight one and press enter", style="dim")])
        self.query_one("#history").border_title = "History"

    @property
    def history(self) -> HistoryPane:
        return self.query_one(HistoryPane)

    @property
    def reading(self) -> bool:
        """Whether the focus is in the detail or history pane (verbs then act on the open ticket)."""
        return self.is_reading_pane(self.screen.focused)

    def is_reading_pane(self, widget: object) -> bool:
        return widget in (self.query_one("#detail"), self.history)

    @property
    def current_id(self) -> int | None:
        return self.current.ticket["id"] if self.current is not None else None

    # -- opening a ticket ---------------------------------------------------------------------------

    def open_ticket(self, ticket_id: int, focus: bool = False, follow: bool = False) -> None:
        """Show the ticket; `follow`: scroll its history to the newest transaction even if you had
        scrolled up (after a change of yours, so you see it). A ticket read ahead shows at once,
        in the same frame as whatever the key changed elsewhere (the list's cursor, the focus), and
        is read again behind it (`_read`), replaced if that differs."""
        ahead = self._take_ahead(ticket_id)
        if ahead is not None:
            self._shown(ahead, focus, follow)
        elif self.current is not None and self.current_id == ticket_id:
            ahead = self.current  # on screen already: the focus goes to it now, the read follows
            self._shown(ahead, focus, follow, again=False)
        hold_frame(self.app)
        self._read(ticket_id, focus, follow, ahead)

    @work(exclusive=True, group="detail")
    async def _read(self, ticket_id: int, focus: bool, follow: bool, ahead: TicketView | None) -> None:
        """Read the ticket (marking it seen) and show it, or, if `ahead` shows already, show the
        read only if it differs."""
        detail = self.query_one("#detail")
        slow = None
        if ahead is None:
            slow = self.set_timer(SLOW_TICKET, lambda: setattr(detail, "loading", True))
        else:
            # The screen is drawn before the read starts: the read's thread would take turns with
            # the drawing for the interpreter (the GIL) and make its frames twice as slow.
            drawn = asyncio.Event()
            self.call_after_refresh(drawn.set)
            await drawn.wait()
            await asyncio.sleep(CONFIRM_DELAY)
        try:
            view = await self.backend.ask(ticket_ops.view, ticket_id, history_limit=history_text.PAGE)
        finally:
            if slow is not None:
                slow.stop()
                detail.loading = False
        if view is None:
            self.post_message(self.ReadFailed(ticket_id))
            return
        if ahead is None:
            self._shown(view, focus, follow)
        elif view != ahead and self.current_id == ticket_id:
            self.show(view, follow=follow)

    def _shown(self, view: TicketView, focus: bool, follow: bool, again: bool = True) -> None:
        if again:
            self.show(view, follow=follow)
        self.post_message(self.Shown(view.ticket["id"]))
        if focus:
            self.history.focus()

    # -- reading ahead --------------------------------------------------------------------------------

    def _take_ahead(self, ticket_id: int) -> TicketView | None:
        found = self._ahead.pop(ticket_id, None)
        if found is None or time.monotonic() - found[0] > PREFETCH_FRESH:
            self._laid.pop(ticket_id, None)
            return None
        return found[1]  # (its `_laid`, if any, is taken by `show`)

    def forget(self, ticket_ids: set[int] | list[int] | None) -> None:
        """Drop what was read ahead of these tickets (None: of all): they changed."""
        self._generation += 1
        if ticket_ids is None:
            self._ahead.clear()
            self._laid.clear()
        else:
            for ticket_id in ticket_ids:
                self._ahead.pop(ticket_id, None)
                self._laid.pop(ticket_id, None)

    @work(exclusive=True, group="prefetch")
    async def prefetch(self, ticket_ids: list[int]) -> None:
        """Read these tickets ahead (not marked seen), after `PREFETCH_DELAY` (a new call while
        waiting replaces this one: the cursor moved on). Nothing shows; a failure is forgotten
        (opening the ticket reads it again and reports)."""
        await asyncio.sleep(PREFETCH_DELAY)
        for ticket_id in ticket_ids:
            held = self._ahead.get(ticket_id)
            if ticket_id == self.current_id or (held and time.monotonic() - held[0] < PREFETCH_FRESH / 2):
                continue
            generation = self._generation
            try:
                view = await self.backend.call(
                    ticket_ops.view, ticket_id, mark_seen=False, history_limit=history_text.PAGE
                )
            except TesseraError:
                continue
            if generation == self._generation:
                self._ahead[ticket_id] = (time.monotonic(), view)
                while len(self._ahead) > PREFETCH_KEEP:
                    self._laid.pop(next(iter(self._ahead)), None)
                    del self._ahead[next(iter(self._ahead))]
                self._laid[ticket_id] = self._lay_out(view)

    def reopen(self, follow: bool = False) -> None:
        """Load the open ticket again (a change, yours or someone else's); the focus stays."""
        if self.current is not None:
            self.open_ticket(self.current.ticket["id"], focus=False, follow=follow)

    def show(self, view: TicketView, follow: bool = False) -> None:
        pane = self.history
        same = self.current is not None and self.current.ticket["id"] == view.ticket["id"]
        if same and self.current is not None:
            # A refresh (yours or a live change): what was laid out stays, new transactions join it,
            # and the view follows the end only if you were at the end.
            self.history_window += max(0, view.history_total - self.current.history_total)
            view = _with_earlier(view, self.current.history)
        else:
            self.history_window = history_text.PAGE
        follow = follow or not same or pane.is_vertical_scroll_end
        laid = self._laid.pop(view.ticket["id"], None)
        if laid is not None and (
            same or laid.view is not view or laid.mode != (self.history_mode, self.show_trace)
        ):
            laid = None
        self.current = view
        detail = self.query_one("#detail", DetailPane)
        if laid is not None:
            detail.show_blocks(laid.detail.blocks, home=True, laid=laid.detail)
        else:
            detail.show_blocks([render_detail(view)], home=not same)
        detail.border_title = safe.clean_line(view.ticket["display_id"])
        # Following, the pane is drawn at its end from the first frame; scrolling up leaves the
        # end, and new transactions then join above the reader's place.
        self.render_history(follow=follow, laid=laid.history if laid is not None else None)

    # -- the history ----------------------------------------------------------------------------------

    def render_history(self, follow: bool = False, home: bool = False, laid: Laid | None = None) -> None:
        if self.current is None:
            return
        events, mode, trace = self.current.history, self.history_mode, self.show_trace
        # Room for the scrollbar whether or not it shows (the pane's gutter): it never covers a line.
        width = self.history.text_width or None
        self._laid_out_for = width
        if laid is not None and laid.width == self.history.text_width:
            blocks = laid.blocks
        else:
            blocks, laid = self._history_blocks(self.current, self.history_window, width), None
        self.history.show_blocks(blocks, follow=follow, home=home, laid=laid)
        self.history.border_title = history_text.title(events, mode, trace, self.current.history_counts)

    def _history_blocks(self, view: TicketView, newest: int, width: int | None) -> list[Text]:
        return history_text.render_blocks(
            view.history,
            self.history_mode,
            self.show_trace,
            newest=newest,
            width=width,
            unloaded=self._unloaded(view),
        )

    def _lay_out(self, view: TicketView) -> _LaidTicket:
        """The panes' text for a ticket read ahead, measured and its first screen drawn (as `show`
        would for a ticket newly opened), so that opening it only puts lines on the screen."""
        detail = self.query_one("#detail", DetailPane).lay_out([render_detail(view)], end=False)
        blocks = self._history_blocks(view, history_text.PAGE, self.history.text_width or None)
        history = self.history.lay_out(blocks, end=True)
        return _LaidTicket(view, (self.history_mode, self.show_trace), detail, history)

    def _unloaded(self, view: TicketView | None = None) -> int:
        """How many earlier transactions the history filter shows that are not read yet."""
        view = view or self.current
        if view is None or view.history_counts is None:
            return 0
        shown = len(history_text.shown(view.history, self.history_mode))
        return max(0, history_text.count_in(view.history_counts, self.history_mode) - shown)

    @work(exclusive=True, group="history-earlier")
    async def read_earlier(self, everything: bool = False) -> None:
        """Read earlier transactions (all of them, or until the window is full in this filter),
        put them before those read, and lay the window out."""
        view = self.current
        while view is not None and self.current is view and not view.history_complete and view.history:
            filled = len(history_text.shown(view.history, self.history_mode)) >= self.history_window
            if filled and not everything:
                break
            before = view.history[0]["id"]
            limit = None if everything else EARLIER_PAGE
            page = await self.backend.ask(ticket_ops.history_page, view.ticket["id"], before, limit)
            if page is None or self.current is not view:
                return
            if not page:  # the history changed under us: what was read is all there is
                view = dataclasses.replace(view, history_counts=None)
            else:
                view = dataclasses.replace(view, history=page + view.history)
            self.current = view
        if view is None or self.current is not view:
            return
        if everything:
            self.history_window = max(self.history_window, len(view.history))
            self.render_history(home=True)
        else:
            self.render_history()

    def watch_history_mode(self) -> None:
        self.render_history()
        if self._unloaded():
            self.read_earlier()

    def watch_show_trace(self) -> None:
        self.render_history()

    @on(HistoryPane.Resized)
    def _history_resized(self) -> None:
        if (self.history.text_width or None) != self._laid_out_for:
            self.render_history(follow=self.history.is_vertical_scroll_end)

    @on(HistoryPane.ReachedTop)
    def _history_top(self, event: HistoryPane.ReachedTop) -> None:
        if self.current is None:
            return
        events = self.current.history
        unloaded = self._unloaded()
        if not history_text.hidden(events, self.history_mode, self.history_window) and not unloaded:
            return
        pane = self.history
        if event.everything:
            if unloaded:
                self.read_earlier(everything=True)
                return
            self.history_window = len(events)
            self.render_history(home=True)
            return
        pane.keep_from_end = pane.virtual_size.height - pane.scroll_y
        self.history_window += history_text.PAGE
        if len(history_text.shown(events, self.history_mode)) < self.history_window and unloaded:
            self.read_earlier()  # lays the window out once the earlier page is read
            return
        self.render_history()

    def cycle_history_filter(self) -> None:
        """f: everything → correspondence only → correspondence and comments."""
        self.history_mode = history_text.next_mode(self.history_mode)
        shown = history_text.MODES[self.history_mode] or "everything"
        self.notify(f"History: {shown}", markup=False, timeout=2)

    def toggle_trace(self) -> None:
        """i: under each transaction, the scrips that considered it and what came of each."""
        self.show_trace = not self.show_trace
        self.notify(f"Scrip trace {'shown' if self.show_trace else 'hidden'}", markup=False, timeout=2)


def _with_earlier(view: TicketView, before: list[dict[str, Any]]) -> TicketView:
    """A reloaded ticket's newest page with the earlier transactions read before it: kept when
    the page reaches back into them (else too much is new to join them up, and the page stands
    alone, as a ticket opened anew)."""
    page = view.history
    if view.history_complete or not page or not before or page[0]["id"] > before[-1]["id"]:
        return view
    earlier = [event for event in before if event["id"] < page[0]["id"]]
    return dataclasses.replace(view, history=earlier + page) if earlier else view


def _sla_text(t: dict[str, Any]) -> str:
    """`4h: 2h 05m left` / `4h: overdue by 30m` (business time on the level's calendar)."""
    left = t.get("sla_time_left")
    if left is None:
        return f"{t['sla']}: no deadline running"
    hours, rest = divmod(abs(left), 60)
    span = f"{hours}h {rest:02d}m" if hours else f"{rest}m"
    return f"{t['sla']}: overdue by {span}" if left < 0 else f"{t['sla']}: {span} left"


def _people(label: str, people: list[str], out: Text) -> None:
    out.append(f"{label:<11}", style="bold")
    out.append(safe.clean_line(", ".join(people) or "-"))
    out.append("\n")


def _undelivered(history: list[dict[str, Any]]) -> list[str]:
    """Who was refused mail about this ticket and not sent it since (a retry clears the mark):
    "address (mail #12)", oldest first."""
    out: list[str] = []
    for event in history:
        for mail in event.get("outgoing") or []:
            for rcpt in mail.get("recipients") or []:
                if rcpt.get("state") == "refused":
                    out.append(f"{rcpt.get('address')} (mail #{mail.get('id')})")
    return out


def render_detail(view: TicketView) -> Text:
    t: dict[str, Any] = view.ticket
    out = Text()
    out.append(safe.clean_line(t["display_id"]), style="bold")
    out.append("  ")
    out.append(safe.clean_line(t["subject"]), style="bold")
    if view.bookmarked:
        out.append("  ★ bookmarked", style="yellow")
    out.append("\n")
    undelivered = view.undelivered if view.undelivered is not None else _undelivered(view.history)
    if undelivered:
        out.append("⚠ Not delivered: ", style="bold red")
        out.append(safe.clean_line(", ".join(undelivered)), style="bold red")
        out.append("  (the mail server refused it; see the history)\n", style="dim")
    out.append("\n")
    fields = [
        ("Queue", t["queue"]),
        ("Status", f"{t['status']} ({view.category or '?'}, lifecycle {view.lifecycle})"),
        ("Owner", t["owner"] or "Nobody"),
        (
            "Priority",
            f"{priorities.shown(t['priority'])}, "
            f"initial {t['initial_priority']}, final {t['final_priority']}",
        ),
        ("Created", when(t["created"])),
        ("Updated", when(t["updated"])),
        ("Started", when(t["started"])),
        ("Resolved", when(t["resolved"])),
        ("Due", when(t["due"])),
        *([("SLA", _sla_text(t))] if t.get("sla") else []),
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
    if t.get("squelched"):
        _people("Squelched", t["squelched"], out)  # RT's SquelchMailTo: no mail to them
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
    reminders = t.get("reminders") or []
    if reminders:
        out.append("\nReminders\n", style="bold underline")
        for r in reminders:
            due = f", due {when(r['due'])}" if r.get("due") else ""
            out.append(f"  #{r['id']} [{safe.clean_line(r['status'])}] ", style="bold")
            out.append(safe.clean_line(f"{r['subject']} (owner {r['owner'] or 'Nobody'}{due})") + "\n")
    if view.choices:
        out.append("\nYou may: ", style="bold")
        out.append(", ".join(f"{c.label} (→{c.status})" for c in view.choices))
        out.append("\n")
    return out

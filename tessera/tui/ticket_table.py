"""The ticket table of the queue pane: the rows of one view a page at a time, their columns
fitted to the width, the unread marker, and the marks an agent sets (x) for the ticket verbs.

It talks by messages: `Opened` (enter on a row), `Marked`, `SortAsked` (S) and `EndReached` (G);
`QueuePane` (tessera.tui.queue_pane) owns the view it shows and pages it from the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Self

from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from tessera.core.listing import TicketRow
from tessera.core.time_left import LIMIT
from tessera.tui import safe
from tessera.tui.actions import bindings
from tessera.tui.queue_view import BREACHING

COLUMNS = (
    ("flag", "  ", 2),
    ("id", "ID", 9),
    ("subject", "Subject", 28),
    ("status", "Status", 8),
    ("owner", "Owner", 8),
    ("priority", "Pri", 3),
    ("due", "Due", 6),
    ("created", "Age", 4),
    ("updated", "Updated", 7),
    ("requestor", "Requestor", 18),
)
# Below this many columns for the table, columns are one space apart (not two) and Age and
# Updated take their short labels: every column stays on screen at 80 columns, and up to a
# 110-column terminal the Subject keeps room for a whole short subject.
TIGHT_TABLE = 100
SHORT_LABELS = {"created": ("Age", 3), "updated": ("Upd", 3), "owner": ("Owner", 7)}
PADDING = 1  # cells padded each side when not tight
SCROLLBAR = 2  # the vertical scrollbar's width, kept free so it never covers a column
SHARED = ("subject", "requestor")  # the columns that share what the others leave (2:1, Subject first)
REQUESTOR_MAX = 24
MORE_WITHIN = 5  # rows from the end at which the next page is fetched
SLOW_PAGE = 0.4  # seconds before a page still loading shows the loading indicator
FILTER_DELAY = 0.25  # seconds of quiet typing before the quick filter runs
# The table's looks that do not change with its focus (those that do: the cursor row's and the
# header's, see `TicketTable.render_lines`).
STEADY_COMPONENTS = (
    "datatable--fixed",
    "datatable--odd-row",
    "datatable--even-row",
    "datatable--hover",
    "datatable--header-hover",
    "datatable--header-cursor",
    "tickets--due-close",
    "tickets--due-overdue",
)
# The Due cell's looks (tessera.tcss: the theme's warning and error colours). Not colour alone:
# an overdue time starts with "!" and is reversed, a close one is bold (NO_COLOR keeps both).
DUE_LOOKS = ("tickets--due-close", "tickets--due-overdue")
FOCUS_COMPONENTS = ("datatable--cursor", "datatable--fixed-cursor", "datatable--header")


def due_text(left: timedelta | None) -> str:
    """A time left as the Due column shows it: 45m, 3h20m, 27h, 99h+ (business time), overdue with
    "!" first (!45m, !3h20m, !99h+); "" without a Due."""
    if left is None:
        return ""
    sign = "!" if left < timedelta(0) else ""
    if abs(left) >= LIMIT:
        return f"{sign}99h+"
    minutes = int(abs(left).total_seconds()) // 60
    if minutes < 60:
        return f"{sign}{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}h" if hours >= 10 or not minutes else f"{sign}{hours}h{minutes:02d}m"


def due_look(left: timedelta | None) -> str | None:
    """The Due cell's component class: overdue, close (within the breaching-soon window), or none."""
    if left is None:
        return None
    if left < timedelta(0):
        return "tickets--due-overdue"
    return "tickets--due-close" if left <= BREACHING else None


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
    """The rows of the queue pane, with their unread (●) and marked (✓) flags; the keys of the
    `queue` scope: g/G first and last row, enter opens (`Opened`), x/space marks, S sorts."""

    BINDINGS = bindings("queue")
    COMPONENT_CLASSES = DataTable.COMPONENT_CLASSES | set(DUE_LOOKS)
    # The rows look the same focused or not (DataTable tints a focused table's background, which
    # redraws every cell each time the focus comes or goes: most of enter's and q's time). The
    # focus shows in the cursor row, the header and the pane's border.
    # The same tint unfocused too: a style value that changes with the focus repaints the table.
    DEFAULT_CSS = """
    TicketTable, TicketTable:focus {
        background-tint: $foreground 0%;
    }
    """

    class Opened(Message):
        """Enter on a row: open this ticket."""

        def __init__(self, ticket_id: int) -> None:
            super().__init__()
            self.ticket_id = ticket_id

    class Marked(Message):
        """A mark was set or cleared."""

    class SortAsked(Message):
        """S: the sort picker, please."""

    class EndReached(Message):
        """G: the last row is highlighted; the next page, if any, please."""

    def __init__(self, clock: Callable[[], datetime], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.clock = clock
        self.tickets: dict[int, TicketRow] = {}  # not `rows`: DataTable has its own
        self.marked: set[int] = set()
        # The ticket the cursor was put on (by you, or where the first page put it); a reload
        # never moves it. When a reload hides it (a filter, a change by someone else), the cursor
        # lands on a neighbour you did not choose: `drifted` until you move it yourself.
        self.chosen: int | None = None
        self.drifted = False
        self._reloading = False
        self.tight = False  # one space between columns (a narrow table)
        self.widths = {key: width for key, _label, width in COLUMNS}
        self._fitted_to = 0
        self._drawn_look: tuple[Style, ...] | None = None  # the steady looks the caches were drawn in
        self._drawn_focus: tuple[Style, ...] | None = None  # the focus-dependent ones
        self._due_drawn: tuple[Style, ...] | None = None  # the looks the Due cells were made with
        self._add_columns()

    def _add_columns(self) -> None:
        for key, label, _width in COLUMNS:
            shown = SHORT_LABELS[key][0] if self.tight and key in SHORT_LABELS else label
            # Tight: no cell padding; each cell ends in a space of its own (see `cells`).
            self.add_column(shown, key=key, width=self.widths[key] + (1 if self.tight else 0))

    def on_resize(self) -> None:
        self.fit(self.size.width)

    # -- drawing: a focus change redraws the cursor row and the header, not every row ----------------

    def notify_style_update(self) -> None:
        # DataTable forgets every drawn cell on any style change (a focus change is one); which of
        # them are out of date is decided when the table is next drawn (`render_lines`). The
        # stylesheet follows a focus change with a whole refresh (the cursor's and the header's
        # component styles changed): that one is narrowed to what the focus changes (`refresh`).
        Widget.notify_style_update(self)
        self._looks_now: tuple[tuple[Style, ...], tuple[Style, ...]] | None = None
        self._restyled = True
        self.call_next(self._restyle_settled)

    def refresh(
        self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False
    ) -> Self:
        whole = not regions and repaint and not layout and not recompose
        if whole and getattr(self, "_restyled", False):
            self._restyle_settled()
            return self
        # Textual repaints a widget whole as it is given the focus, gains it and loses it (the
        # first whole refresh after `has_focus` changes): here the focus changes the header and
        # the cursor row only.
        focus_moved = getattr(self, "_focus_seen", False) != self.has_focus
        if whole and (focus_moved or getattr(self, "_focus_moving", False)):
            self._focus_seen = self.has_focus
            self._refresh_focus_rows()
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def focus(self, scroll_visible: bool = True) -> Self:
        self._focus_moving = True
        try:
            return super().focus(scroll_visible)
        finally:
            self._focus_moving = False

    def _restyle_settled(self) -> None:
        """After a style change: draw again what it changed. Only the header and the cursor row when
        only the focus-dependent looks changed (the rows look the same focused or not, and the
        other rows' drawn lines are kept: a whole table drawn again was most of enter and q)."""
        if not self._restyled:
            return
        self._restyled = False
        steady, focused = self._looks()
        if steady != self._drawn_look or self._drawn_focus is None:
            super().refresh()
        elif focused != self._drawn_focus:
            self._refresh_focus_rows()

    def _looks(self) -> tuple[tuple[Style, ...], tuple[Style, ...]]:
        # Kept until the styles change (asking for ten component styles at each frame was a fifth
        # of drawing the cursor row).
        looks = getattr(self, "_looks_now", None)
        if looks is None:
            style = self.get_component_rich_style
            steady = (self.rich_style, *(style(name, default=Style.null()) for name in STEADY_COMPONENTS))
            focused = tuple(style(name, default=Style.null()) for name in FOCUS_COMPONENTS)
            looks = self._looks_now = (steady, focused)
        return looks

    def _focus_regions(self) -> list[Region]:
        """The header's and the cursor row's regions (in the table's content, not scrolled)."""
        width = max(self.size.width, self.virtual_size.width)
        regions = [Region(0, 0, width, self.header_height)] if self.show_header else []
        if self.is_valid_row_index(self.cursor_row):
            regions.append(self._get_row_region(self.cursor_row))
        return regions

    def _refresh_focus_rows(self) -> None:
        header = self.header_height if self.show_header else 0
        for index, region in enumerate(self._focus_regions()):
            if index == 0 and header:
                super().refresh(region)  # fixed on top: not scrolled
            else:
                self._refresh_region(region)

    def render_lines(self, crop: Region) -> list[Strip]:
        state = self.get_pseudo_class_state()
        # DataTable keys its caches on the focus too; here only the looks that depend on it are
        # dropped when it changes (the cursor row and the header), so the other rows are reused.
        self._pseudo_class_state = state._replace(focus=False)
        steady, focused = self._looks()
        if steady != self._drawn_look:
            if self._due_drawn is not None and steady[-2:] != self._due_drawn:
                self.call_later(self._restyle_due)  # a theme change: the Due cells take its colours
            self._clear_caches()
        elif focused != self._drawn_focus:
            self._forget_focus_rows()
        self._drawn_look, self._drawn_focus = steady, focused
        return Widget.render_lines(self, crop)

    def _restyle_due(self) -> None:
        for ticket_id, row in self.tickets.items():
            if due_look(row.left) is not None:
                self.update_cell(str(ticket_id), "due", self.due_cell(row))

    def due_cell(self, row: TicketRow) -> Text:
        looks = tuple(self.get_component_rich_style(name, default=Style.null()) for name in DUE_LOOKS)
        self._due_drawn = looks
        look = due_look(row.left)
        return Text(due_text(row.left), style=looks[DUE_LOOKS.index(look)] if look else "")

    def _forget_focus_rows(self) -> None:
        """Drop what was drawn with the cursor's or the header's look (they follow the focus)."""
        header = self._header_row_key
        locations = self._row_locations
        cells = self._cell_render_cache
        for cell_key in [k for k in list(cells.keys()) if k[3] or k[0] is header]:
            cells.discard(cell_key)
        rows = self._row_render_cache
        for row_key in [k for k in list(rows.keys()) if k[0] is header or locations.get(k[0]) == k[3].row]:
            rows.discard(row_key)
        # The drawn lines of the header and the cursor row (the others are kept).
        lines: set[int] = set()
        for region in self._focus_regions():
            lines.update(region.line_range)
        line_cache = self._line_cache
        for line_key in [k for k in list(line_cache.keys()) if k[0] in lines]:
            line_cache.discard(line_key)
        self._get_styles_to_render_cell.cache_clear()

    def fit(self, width: int) -> None:
        """Column widths for a table `width` cells wide: the fixed columns as they are (short ones
        when tight), Subject and Requestor sharing the rest (2:1, the Requestor at most
        REQUESTOR_MAX: the subject is what an agent reads), so every column shows."""
        if width <= 0 or width == self._fitted_to:
            return
        self._fitted_to = width
        tight = width < TIGHT_TABLE
        per_column = 1 if tight else 2 * PADDING  # (not cell_padding: still 0 when coming from tight)
        widths = {key: w for key, _label, w in COLUMNS}
        if tight:
            widths.update({key: w for key, (_label, w) in SHORT_LABELS.items()})
        fixed = sum(w + per_column for key, w in widths.items() if key not in SHARED)
        rest = max(0, width - SCROLLBAR - fixed - per_column * len(SHARED))
        widths["requestor"] = min(REQUESTOR_MAX, max(8, rest // 3))
        widths["subject"] = max(12, rest - widths["requestor"])
        if tight == self.tight and widths == self.widths:
            return
        self.tight, self.widths = tight, widths
        self.cell_padding = 0 if tight else PADDING
        rows = list(self.tickets.values())
        self.clear(columns=True)
        self._add_columns()
        if rows:
            self.show(rows)

    # -- rows -------------------------------------------------------------------------------------

    def show(self, rows: Iterable[TicketRow], keep: int | None = None) -> None:
        """These rows instead of the shown ones; the cursor goes to `keep`, else back to the
        `chosen` ticket (the ticket it was put on, even if an earlier reload had hidden it)."""
        target = keep if keep is not None else self.chosen
        if target is None and self.row_count and self.cursor_row < self.row_count:
            target = self.row_id(self.cursor_row)
        self._reloading = True  # the cursor moves below are the reload's, not yours
        try:
            self.clear()
            self.tickets.clear()
            self.add(rows)
            self.marked &= set(self.tickets)
            if target in self.tickets:
                self.move_cursor(row=list(self.tickets).index(target))
        finally:
            self._reloading = False
        if keep is not None or self.chosen is None:
            self.chosen = target if target in self.tickets else self.highlighted_id
        self.drifted = self.chosen is not None and self.highlighted_id != self.chosen

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        if not self._reloading and self.row_count:
            self.chosen = self.row_id(new.row)  # you moved it (a key, a click, J/K)
            self.drifted = False

    def add(self, rows: Iterable[TicketRow]) -> None:
        now = self.clock()
        for row in rows:
            self.tickets[row.id] = row
            self.add_row(*self.cells(row, now), key=str(row.id))

    def cells(self, row: TicketRow, now: datetime) -> list[Text]:
        weight = "bold" if row.unread else ""
        cells = [
            self.flag(row),
            Text(row.display_id, style=weight),
            safe.line(row.subject, weight),
            safe.line(row.status),
            safe.line(row.owner or "-"),
            Text(str(row.priority).rjust(self.widths["priority"]), justify="right"),
            self.due_cell(row),
            Text(age(row.created, now)),
            Text(age(row.updated, now)),
            safe.line(row.requestor or "-"),
        ]
        if self.tight:  # each cell cut to its column and a space after it: one space apart
            for (key, _label, _width), cell in zip(COLUMNS, cells, strict=True):
                cell.truncate(self.widths[key], overflow="ellipsis")
                cell.justify = "left"
                cell.append(" ")
        return cells

    def flag(self, row: TicketRow) -> Text:
        out = Text()
        out.append("✓" if row.id in self.marked else " ", style="bold")
        out.append("●" if row.unread else " ", style="bold")
        return out

    def redraw_row(self, ticket_id: int) -> None:
        """Draw one row again (its unread or marked flag changed). Not with `update_cell`: that
        makes DataTable forget every drawn cell and draw the whole table again (each enter on an
        unread ticket did: ~130 cells, most of the frame); here only this row's cells are dropped
        (the columns' widths are fixed by `fit`, so no other row moves)."""
        row = self.tickets.get(ticket_id)
        row_key = RowKey(str(ticket_id))
        if row is None or row_key not in self._row_locations:
            return
        data = self._data[row_key]
        for column, cell in zip(COLUMNS, self.cells(row, self.clock()), strict=True):
            data[ColumnKey(column[0])] = cell
        index = self._row_locations.get(row_key)
        renderables = self._row_renderable_cache
        for renderable_key in [k for k in list(renderables.keys()) if k[1] == index]:
            renderables.discard(renderable_key)
        cells = self._cell_render_cache
        for cell_key in [k for k in list(cells.keys()) if k[0] == row_key]:
            cells.discard(cell_key)
        rows = self._row_render_cache
        for row_cache_key in [k for k in list(rows.keys()) if k[0] == row_key]:
            rows.discard(row_cache_key)
        self._line_cache.clear()
        if index is not None:
            self.refresh_row(index)

    def row_id(self, index: int) -> int | None:
        if 0 <= index < self.row_count:
            key = self.coordinate_to_cell_key(Coordinate(index, 0)).row_key
            return int(str(key.value))
        return None

    @property
    def highlighted_id(self) -> int | None:
        return self.row_id(self.cursor_row)

    def mark_read(self, ticket_id: int) -> None:
        row = self.tickets.get(ticket_id)
        if row is not None and row.unread:
            self.tickets[ticket_id] = replace(row, unread=False)
            self.redraw_row(ticket_id)

    def unmark(self, ticket_ids: Iterable[int]) -> None:
        gone = self.marked & set(ticket_ids)
        self.marked -= gone
        for ticket_id in gone:
            self.redraw_row(ticket_id)

    def step(self, step: int) -> int | None:
        """Move the cursor `step` rows (within the table); the ticket it lands on."""
        if not self.row_count:
            return None
        index = max(0, min(self.row_count - 1, self.cursor_row + step))
        self.move_cursor(row=index)
        return self.row_id(index)

    # -- the `queue` scope's keys -------------------------------------------------------------------

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)
        self.post_message(self.EndReached())

    def action_open_ticket(self) -> None:
        ticket_id = self.highlighted_id
        if ticket_id is not None:
            self.chosen, self.drifted = ticket_id, False  # opened: you chose it
            self.post_message(self.Opened(ticket_id))

    def action_toggle_mark(self) -> None:
        ticket_id = self.highlighted_id
        if ticket_id is None:
            return
        self.marked.symmetric_difference_update({ticket_id})
        self.redraw_row(ticket_id)
        self.action_cursor_down()
        self.post_message(self.Marked())

    def action_sort(self) -> None:
        self.post_message(self.SortAsked())

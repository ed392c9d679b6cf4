"""The reading panes (the history, and the ticket's fields beside it) as line-API widgets: they
draw only the lines on screen.

The history was one `Static` holding the page's text: each time a ticket was shown, all of it was
wrapped to find its height, then all of it drawn (and, anchored to its end, laid out again as it
settled): most of a frame of enter, J and K. Here the text comes in blocks (a transaction each,
`tessera.tui.history.render_blocks`); a block's height is counted from its plain text (a line
longer than the pane is divided as Textual's own text would be), and a block is turned into
drawn lines (`Strip`s) only when one of its lines is on screen, then kept until the text, the
width or the theme changes. The widget's size never depends on its text, so showing a ticket
lays nothing out: the pane is drawn again, at its end if it follows it. The detail pane (the
ticket's fields, one block) is drawn the same way: as a `Static` its new text laid the screen out.

Everything shown has passed through `tessera.tui.safe` (in `history.render_blocks`), and styles
come from the blocks' `Text` spans only (never markup).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, cast

from rich._wrap import divide_line
from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.content import Content
from textual.geometry import Offset, Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import RenderOptions

from tessera.tui.actions import bindings
from tessera.tui.pane_title import FocusTitle


def line_count(plain: str, width: int) -> int:
    """How many lines `plain` (one block's text) takes at `width` cells, as Textual wraps text."""
    count = 0
    for line in plain.split("\n"):
        if "\t" in line:
            line = line.expandtabs(8)
        if width <= 0 or (len(line) <= width and cell_len(line) <= width):
            count += 1
        else:
            count += len(divide_line(line, width, fold=True)) + 1
    return count


@dataclass(eq=False)
class Laid:
    """Blocks measured, and the lines that will be on screen drawn, before they are shown (for a
    ticket read ahead: enter then only puts lines on the screen)."""

    blocks: list[Text]
    width: int
    style: Style
    heights: list[int]
    drawn: dict[int, list[Strip]]


class LinePane(FocusTitle, ScrollView, can_focus=True):
    """A reading pane: blocks of text, scrollable, read-only, with vim keys."""

    BINDINGS = bindings("history")
    ALLOW_MAXIMIZE = True
    FOLLOWS_END = False  # whether a reader at the end stays there as the text changes

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._blocks: list[Text] = []
        self._starts: list[int] = []  # the first line of each block
        self._heights: list[int] = []
        self._total = 0
        self._measured_for = -1  # the width the heights were counted at
        self._drawn: dict[int, list[Strip]] = {}  # block index -> its lines, at `_measured_for`
        # The pane's look the lines were drawn in: a focus change restyles the pane (its border)
        # without changing it, and the lines are kept; a theme change does change it.
        self._drawn_in: Style | None = None
        self._at_end = self.FOLLOWS_END  # the reader is at the end: it stays there as the text changes
        # Set before earlier transactions are shown above: the distance from the reading position
        # to the end, kept when the text grows, so the reader stays where they were.
        self.keep_from_end: float | None = None
        self._frame: tuple[Offset, int, Style] | None = None  # see `render_lines`

    # -- what it shows --------------------------------------------------------------------------------

    @property
    def text_width(self) -> int:
        """The width text is laid out to: the pane's, less its padding and its scrollbar's room."""
        return max(0, self.scrollable_content_region.width)

    @property
    def plain(self) -> str:
        """The text shown (all blocks, each line as it is before wrapping)."""
        return "\n".join(block.plain for block in self._blocks)

    @property
    def blocks(self) -> list[Text]:
        return list(self._blocks)

    def lay_out(self, blocks: list[Text], *, end: bool) -> Laid:
        """Measure `blocks` at the pane's width and draw the lines a screen of them shows (from the
        end, or from the top), without showing them: `show_blocks(..., laid=)` then does not."""
        width, style = self.text_width, self.rich_style
        heights = [line_count(block.plain, width) for block in blocks]
        drawn: dict[int, list[Strip]] = {}
        room, filled = self.scrollable_content_region.height, 0
        for index in reversed(range(len(blocks))) if end else range(len(blocks)):
            if filled >= room:
                break
            drawn[index] = self._draw(blocks[index], width, heights[index])
            filled += heights[index]
        return Laid(list(blocks), width, style, heights, drawn)

    def show_blocks(
        self, blocks: list[Text], *, follow: bool = False, home: bool = False, laid: Laid | None = None
    ) -> None:
        """Show these blocks; `follow`: at the end; `home`: at the top; else where the reader was
        (`keep_from_end` from the end, if set, else the same line from the top). `laid`: these
        blocks as `lay_out` made them, used if the pane's width and look are still the same."""
        self._blocks = list(blocks)
        if laid is not None and laid.width == self.text_width and laid.style == self.rich_style:
            self._measure(laid.width, laid.heights)
            self._drawn.update(laid.drawn)
            self._drawn_in = laid.style
        else:
            self._measure(self.text_width)
        if home:
            self._at_end = False
            self.scroll_to(y=0, animate=False, immediate=True)
        elif follow or (self.FOLLOWS_END and self._at_end and self.keep_from_end is None):
            self._at_end = True
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        elif self.keep_from_end is not None:
            self.scroll_to(y=self._total - self.keep_from_end, animate=False, immediate=True)
        self.keep_from_end = None
        self.refresh()

    def _measure(self, width: int, heights: list[int] | None = None) -> None:
        self._measured_for = width
        self._drawn.clear()
        self._heights = heights if heights is not None else [line_count(b.plain, width) for b in self._blocks]
        starts, total = [], 0
        for height in self._heights:
            starts.append(total)
            total += height
        self._starts, self._total = starts, total
        # Not through the reactive: that lays the screen out, and the pane's size has not changed.
        # The scrollbar follows (and a scrollbar that comes or goes lays the pane out itself).
        size = Size(width, total)
        self.set_reactive(LinePane.virtual_size, size)
        if self.is_mounted:
            self._scroll_update(size)

    # -- drawing --------------------------------------------------------------------------------------

    def _draw(self, block: Text, width: int, height: int) -> list[Strip]:
        content = Content.from_rich_text(block, self.app.console)
        # (the widget's styles are the rules mapping Textual's own widgets pass here)
        options = RenderOptions(self._get_style, cast(Any, self.styles), None, None)
        drawn = content.render_strips(width, None, self.visual_style, options)
        if len(drawn) != height:  # (never, if `line_count` agrees with Textual's wrapping)
            blank = Strip.blank(width, self.rich_style)
            drawn = (drawn + [blank] * height)[:height]
        return drawn

    def _lines_of(self, index: int) -> list[Strip]:
        drawn = self._drawn.get(index)
        if drawn is None:
            drawn = self._drawn[index] = self._draw(
                self._blocks[index], self._measured_for, self._heights[index]
            )
        return drawn

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every line of a frame asks (the pane's look walks its ancestors), asked once.
        self._frame = (self.scroll_offset, self.scrollable_content_region.width, self.rich_style)
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def render_line(self, y: int) -> Strip:
        if self._frame is not None:
            (scroll_x, scroll_y), width, style = self._frame
        else:
            scroll_x, scroll_y = self.scroll_offset
            width, style = self.scrollable_content_region.width, self.rich_style
        if style != self._drawn_in:  # a theme change: drawn again in its colours
            self._drawn.clear()
            self._drawn_in = style
        line = scroll_y + y
        if self._measured_for != width:
            self._measure(width)
        if line >= self._total or not self._blocks:
            return Strip.blank(width, style)
        index = bisect_right(self._starts, line) - 1
        strip = self._lines_of(index)[line - self._starts[index]]
        return strip.crop_extend(scroll_x, scroll_x + width, style)

    # -- scrolling ------------------------------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._at_end = new_value >= self.max_scroll_y

    def on_resize(self) -> None:
        at_end = self._at_end and self.FOLLOWS_END
        if self.text_width != self._measured_for:
            self._measure(self.text_width)
            if at_end:
                self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)


class DetailPane(LinePane):
    """The open ticket's fields (one block)."""


class HistoryPane(LinePane):
    """The history pane: follows its end; tells its owner when the reader reaches the top (to lay
    out earlier transactions) and when its width changes."""

    FOLLOWS_END = True

    class ReachedTop(Message):
        def __init__(self, everything: bool) -> None:
            super().__init__()
            self.everything = everything

    class Resized(Message):
        """The pane's width changed (messages are laid out to it)."""

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value <= 0 < old_value:
            self.post_message(self.ReachedTop(everything=False))

    def on_resize(self) -> None:  # (after LinePane's: Textual calls each class's handler)
        self.post_message(self.Resized())

    def action_scroll_home(self) -> None:
        self.post_message(self.ReachedTop(everything=True))
        self.scroll_home(animate=False)

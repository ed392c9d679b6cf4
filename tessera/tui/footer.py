"""A footer that redraws only when what it shows changes.

Textual's Footer recomposes on every bindings change: each focus move, each refreshed action
check. At start-up that is ~20 rebuilds of every key in it, ~0.2 s of a 1 s cold start (styling
each key costs ~1.5 ms); this one compares what it would show with what it shows, and keeps it.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

# Left off a compact (narrow) footer so the rest fits 80 columns: `?` help lists them.
HIDDEN_WHEN_COMPACT = frozenset({"filter", "search"})
# Kept in the footer however narrow: it lists every key left off.
ALWAYS_SHOWN = "help"


def _width(widget: Widget, compact: bool) -> int:
    """Columns a FooterKey takes: `k Description` and, compact, a one-column right margin, else
    a column of padding each side (the palette key: `▏^p palette`, its bar for one of them)."""
    key, words = str(getattr(widget, "key_display", "")), str(getattr(widget, "description", ""))
    return cell_len(key) + (1 + cell_len(words) if words else 0) + (1 if compact else 2)


def _pinned(widget: Widget) -> bool:
    """Shown however narrow the footer: the palette key and `?` help (which lists every key)."""
    return getattr(widget, "action", None) == ALWAYS_SHOWN or widget.has_class("-command-palette")


class QuietFooter(Footer):
    _shown: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        keys = [
            widget
            for widget in super().compose()
            if not (self.compact and getattr(widget, "action", None) in HIDDEN_WHEN_COMPACT)
        ]
        if all(getattr(w, "action", None) is not None for w in keys):  # no groups: widths known
            keys = self._fitted(keys)
        self.styles.grid_size_columns = sum(getattr(w, "action", None) is not None for w in keys)
        yield from keys

    def _fitted(self, keys: list[Widget]) -> list[Widget]:
        """The keys that fit the width whole, in their order, `?` help always: the rest would run
        under the palette key docked at the right and show cut off (compact at 70 columns
        `q Back` for `q Back / quit`, a stray `/` at 71, `? He` at 60; at 100 `F Sea`, and
        `? H` in the scrip editor at 120)."""
        room = (self.size.width or self.app.size.width) - (1 if self.compact else 0)  # its margin
        room -= sum(_width(w, self.compact) for w in keys if _pinned(w))
        kept: list[Widget] = []
        full = False
        for widget in keys:
            if not _pinned(widget):
                full = full or _width(widget, self.compact) > room  # none after one that does not fit
                if full:
                    continue
                room -= _width(widget, self.compact)
            kept.append(widget)
        return kept

    def on_resize(self) -> None:
        """Narrower or wider: the keys that fit follow."""
        if self.is_attached:
            self.call_after_refresh(self._recompose_if_changed)

    def watch_compact(self, compact: bool) -> None:
        """A resize across 80 columns: the keys shown follow at once (else only the next focus
        move or binding change would recompose, leaving a wide footer cut at 80 columns)."""
        if self.is_attached:
            self.call_after_refresh(self._recompose_if_changed)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True  # as Footer does: compose shows nothing before the first change
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    def _showing(self) -> tuple[Any, ...]:
        palette = self.app.COMMAND_PALETTE_BINDING
        return (
            self.show_command_palette,
            self.compact,
            self.size.width,
            tuple(
                (key, binding.action, binding.description, binding.group, enabled, tooltip)
                for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
                if binding.show or key == palette
            ),
        )

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached:
            return
        showing = self._showing()
        if showing != self._shown:
            self._shown = showing
            await self.recompose()

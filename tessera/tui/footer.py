"""A footer that redraws only when what it shows changes.

Textual's Footer recomposes on every bindings change: each focus move, each refreshed action
check. At start-up that is ~20 rebuilds of every key in it, ~0.2 s of a 1 s cold start (styling
each key costs ~1.5 ms); this one compares what it would show with what it shows, and keeps it.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

# Left off a compact (narrow) footer so the rest fits 80 columns: `?` help lists them.
HIDDEN_WHEN_COMPACT = frozenset({"filter", "search"})


class QuietFooter(Footer):
    _shown: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        shown = 0
        for widget in super().compose():
            action = getattr(widget, "action", None)  # a key (FooterKey) has the action it runs
            if self.compact and action in HIDDEN_WHEN_COMPACT:
                continue
            shown += action is not None
            yield widget
        self.styles.grid_size_columns = shown

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

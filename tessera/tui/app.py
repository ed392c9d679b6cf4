"""The Tessera TUI: the app, its themes, key map, command palette and Backend.

The app makes the one `Backend` through which every screen and pane runs database work, and is its
`Reporter` (a refusal is a one-line notification, a lost database the main screen's banner); it
opens on the main screen (tessera.tui.main_screen), whose panes are components of their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.screen import Screen

from tessera.core.errors import TesseraError
from tessera.tui.actions import ACTIONS, SCOPES, ActionSpec, effective_keys
from tessera.tui.backend import Backend, FirstScreenHelper
from tessera.tui.commands import TicketJump
from tessera.tui.keymap import load_keymap
from tessera.tui.main_screen import MainScreen
from tessera.tui.themes import LIGHT, THEMES, theme_name
from tessera.tui.ticket_ops import DEMO_TICKETS

if TYPE_CHECKING:
    from tessera.core.db import Database


class TesseraApp(App[None]):
    CSS_PATH = "tessera.tcss"
    TITLE = "Tessera"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {TicketJump}  # a ticket number typed in the palette opens it

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
        # The one way every screen and pane runs database work (given to each when it is made).
        self.backend = Backend(None, user, opener=database_factory, reporter=self)
        self.main = MainScreen(self.backend)

    def on_mount(self) -> None:
        self.push_screen(self.main)

    # -- the backend's Reporter: refusals as one line, a lost database as the main screen's banner

    def refused(self, message: str) -> None:
        self.notify(message, severity="error", markup=False, timeout=8)

    def reachable(self, problem: str | None) -> None:
        self.main.set_offline(problem)

    def closed(self) -> bool:
        return not self.main.is_attached

    def fail(self, error: TesseraError) -> None:
        self.error = error
        self.exit(return_code=error.exit_code)

    async def action_quit(self) -> None:
        """ctrl+q: quit, with the same check as q (asks only if a draft is unsent)."""
        if self.main.is_attached:
            self.main.request_quit()
        else:
            self.exit()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for spec in ACTIONS:
            if not spec.palette or spec.id == "palette":
                continue
            keys = " / ".join(effective_keys(spec, self.keymap))
            yield SystemCommand(
                f"{spec.description}  ({keys})" if keys else spec.description,
                SCOPES[spec.scope],
                self._palette_callback(spec),
            )
        yield from super().get_system_commands(screen)

    def _palette_callback(self, spec: ActionSpec) -> Callable[[], None]:
        def run() -> None:
            self.call_later(self.main.run_palette_action, spec)

        return run

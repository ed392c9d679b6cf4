"""The Tessera TUI: the app, its themes, key map, command palette and Backend.

The app makes the one `Backend` through which every screen and pane runs database work, and is its
`Reporter` (a refusal is a one-line notification, a lost database the main screen's banner); it
opens on the main screen (tessera.tui.main_screen), whose panes are components of their own.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on
from textual.app import App, SystemCommand
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer

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

# Seconds a key may take to be handled before the next is sent on anyway (a widget removed with
# the key still waiting in it never answers).
KEY_WAIT = 0.5
# Seconds keys may be held for an answer still to come (`hold_keys`) before they go on anyway.
HOLD_LIMIT = 2.0


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
        self._keys_waiting: deque[events.Key] = deque()  # keys read, not yet sent on (see on_event)
        self._key_out: Timer | None = None  # a key sent on and not yet handled: its time limit
        self._keys_sent = 0
        self._held: Timer | None = None  # keys wait for an answer still to come (see hold_keys)

    def on_mount(self) -> None:
        self.push_screen(self.main)

    # -- keys typed in a burst ----------------------------------------------------------------------
    # Textual sends each key on to the widget focused when the app reads it, before the keys ahead
    # of it have been handled: of "/vpn" typed at once (tmux, a fast typist) the list got all four,
    # `/` opened the filter, and "vpn" was lost (or taken as keys of the list: t takes a ticket).
    # Here a key is sent on only once the one before it has been handled (a `KeyHandled` sent
    # after it to the same widget has come back), so each goes where the keys before it put the
    # focus: into the filter `/` opens, the search bar F opens, the field Tab moves to.

    class KeyHandled(Message):
        """Sent after a key to the widget the key went to; back at the app, the key was handled."""

        def __init__(self, number: int) -> None:
            super().__init__()
            self.number = number

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._keys_waiting.append(event)
            await self._send_keys()
            return
        await super().on_event(event)

    def hold_keys(self) -> None:
        """Keys read from now on wait, in order, until `release_keys` (at most `HOLD_LIMIT`
        seconds): for a key whose effect comes later, so the keys after it act where it leads
        (enter on `#42` in the search bar: r replies to ticket 42, not to the row the list had)."""
        if self._held is not None:
            self._held.stop()
        self._held = self.set_timer(HOLD_LIMIT, self.release_keys)

    def release_keys(self) -> None:
        if self._held is None:
            return
        self._held.stop()
        self._held = None
        self.call_later(self._send_keys)

    async def _send_keys(self) -> None:
        while self._keys_waiting and self._key_out is None and self._held is None:
            key = self._keys_waiting.popleft()
            await super().on_event(key)  # a priority binding runs here; else the key is sent on
            if key.is_forwarded:
                self._keys_sent += 1
                (self.focused or self.screen).post_message(self.KeyHandled(self._keys_sent))
                self._key_out = self.set_timer(KEY_WAIT, self._next_key)

    @on(KeyHandled)
    async def _key_handled(self, message: KeyHandled) -> None:
        message.stop()
        if message.number == self._keys_sent:  # (not one whose time ran out)
            await self._next_key()

    async def _next_key(self) -> None:
        if self._key_out is not None:
            self._key_out.stop()
            self._key_out = None
        await self._send_keys()

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

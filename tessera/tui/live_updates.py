"""Changes others make, as messages: PostgreSQL LISTEN in a thread (they arrive within a second),
gathered for a moment into one `Changed`; a poll every `poll_seconds` only while LISTEN is not
connected (before it is, or while the database is lost). The app's own changes are not told
(the backend's listener skips them: the app reloads what it changed itself). Nothing is
reloaded while a dialog covers the screen: the notice waits until the screen is back on top.

A widget without a look (`display: none`), so it has a place in the screen's message flow: its
thread and timers stop when the screen goes.
"""

from __future__ import annotations

import threading

from textual import work
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget

from tessera.tui.backend import Backend

LIVE_DELAY = 0.2  # seconds to gather notices before reloading (a burst of changes, one reload)


class LiveUpdates(Widget):
    class Changed(Message):
        """Tickets `ids` changed (None: any may have; reload what is shown)."""

        def __init__(self, ids: set[int] | None) -> None:
            super().__init__()
            self.ids = ids

    class QueuesChanged(Message):
        """A queue was created or changed (by anyone): the queue list is read again."""

    def __init__(self, backend: Backend, poll_seconds: float) -> None:
        super().__init__(id="live-updates")
        self.backend = backend
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._timer: Timer | None = None
        self._ids: set[int] | None = set()
        self.listening = False  # whether LISTEN is connected (then there is no polling)

    def start(self, *, listen: bool) -> None:
        """Poll while not listening; `listen` now too (else `listen()` later, once the first page
        shows)."""
        self.set_interval(self.poll_seconds, self._poll_due)
        if listen:
            self.listen()

    @work(thread=True, exclusive=True, group="live")
    def listen(self) -> None:
        """PostgreSQL LISTEN in a thread: changes by others reach the screen within a second."""
        self.backend.listen(
            lambda ids: self.app.call_from_thread(self._notice, ids),
            self._stop,
            on_state=self._listen_state,
            on_queues=self._queues_notice,
        )

    def _queues_notice(self) -> None:
        """From the listening thread: a queue was created or changed."""
        self.app.call_from_thread(self.post_message, self.QueuesChanged())

    def _listen_state(self, problem: str | None) -> None:
        """From the listening thread: connected (None), or lost (then polls stand in)."""
        self.listening = problem is None

    def _poll_due(self) -> None:
        if not self.listening:
            self.poll()

    def _notice(self, ids: set[int] | None) -> None:
        if ids is None or self._ids is None:
            self._ids = None
        else:
            self._ids |= ids
        if self._timer is None:
            self._timer = self.set_timer(LIVE_DELAY, self._tell)

    def _tell(self) -> None:
        """One `Changed` for what gathered; never under a dialog (then a little later)."""
        self._timer = None
        if self.app.screen is not self.screen:
            self._timer = self.set_timer(LIVE_DELAY * 4, self._tell)
            return
        ids, self._ids = self._ids, set()
        self.post_message(self.Changed(ids))

    def poll(self) -> None:
        """Pick up changes others made (if LISTEN missed them); skipped while a dialog is open."""
        if self.app.screen is self.screen:
            self.post_message(self.Changed(None))

    def on_unmount(self) -> None:
        self._stop.set()

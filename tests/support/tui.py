"""Driving the TUI in tests: keys by action id, async Pilot tests, and waiting on the app's workers."""

from __future__ import annotations

import asyncio
import functools
import unicodedata
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from textual import events
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

from tessera.tui.actions import BY_ID

TEST_TIMEOUT = 90
FIXED_NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


# Workers `settle` does not wait for: those that wait on you, listen, or read ahead (which shows
# nothing: opening the ticket reads it again).
UNAWAITED = ("compose", "live", "prefetch")


def key(action_id: str) -> str:
    """The first key bound to an action (press keys by action id, so a rebinding cannot break tests)."""
    return BY_ID[action_id].keys.split(",")[0]


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async Pilot test on a fresh event loop (no async pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), TEST_TIMEOUT))

    return wrapper


async def settle(pilot: Any) -> None:
    """Wait for the app's database workers (not those waiting on a dialog the test must answer)."""
    for _ in range(400):
        await pilot.pause()
        busy = [w for w in pilot.app.workers if not w.is_finished and w.group not in UNAWAITED]
        if not busy:
            break
        await asyncio.sleep(0.02)
    await pilot.pause()


def _key_event(character: str) -> events.Key:
    """The key event Pilot's `press` makes for one typed character (textual.app._press_keys)."""
    name = {"\n": "enter", " ": "space"}.get(character) or _character_to_key(character)
    try:
        char: str | None = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(name, name)))
    except KeyError:
        char = name if len(name) == 1 else None
    return events.Key(name, char)


def _text_of(widget: Any) -> str:
    value = getattr(widget, "value", None)
    return value if isinstance(value, str) else str(widget.text)


async def type_text(pilot: Any, text: str) -> None:
    """Type `text` into the focused Input or TextArea as a fast typist would: every key event at
    once, each handled by the app in order as any key is; then wait until the widget holds them all.

    Pilot's `press` waits for the whole process to go idle after every key (two polls of 20 ms at
    least, ~80 ms a key on a loaded machine): a form typed key by key cost seconds a test. Press
    keys whose effect is not text (enter, tab, bindings) with `press`."""
    app = pilot.app
    await pilot.pause()  # a focus() just called takes effect first, as it would before a key
    widget = app.focused
    assert widget is not None, "type_text types into the focused widget; nothing has the focus"
    before = len(_text_of(widget))
    for character in text:
        event = _key_event(character)
        event.set_sender(app)
        app.post_message(event)
    await until(pilot, lambda: len(_text_of(widget)) >= before + len(text))
    assert app.focused is widget, f"the focus moved while typing {text!r}: {app.focused!r}"


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            notes = [n.message for n in pilot.app._notifications]
            raise AssertionError(f"timed out waiting; screen is {pilot.app.screen!r}; notifications: {notes}")
        await pilot.pause(0.02)
    await pilot.pause()


async def on_ticket(pilot: Any, ticket_id: int) -> None:
    """The app's main screen is up with `ticket_id` highlighted in the queue's table."""
    screen = pilot.app.main
    await screen.ready.wait()
    await settle(pilot)
    screen.queue_pane.table.move_cursor(row=list(screen.queue_pane.rows).index(ticket_id))
    await pilot.pause()

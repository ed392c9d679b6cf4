"""Driving the TUI in tests: keys by action id, async Pilot tests, and waiting on the app's workers."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

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

"""Waiting on a condition instead of sleeping a fixed time and hoping it happened."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll `predicate` until it returns something truthy and return that; fail loudly at `timeout`.

    Polling the condition itself (a row written, a lock taken, a process gone) is what makes a test
    both fast on a quiet machine and still right on a loaded one; a fixed sleep is neither.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate!r}")
        time.sleep(interval)


async def async_wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """`wait_until` for a test running on an event loop (the server under test shares it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate!r}")
        await asyncio.sleep(interval)


async def until_loop_time(moment: float) -> None:
    """Return once the running loop's clock reaches `moment`: every timer a server on this loop set
    for that moment or earlier has run by then (asyncio runs timers in deadline order)."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, moment - loop.time()))

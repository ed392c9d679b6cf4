"""Two sessions, one lock: run something while another session's change holds its row locks.

Session A runs a core operation; just before A commits (its UPDATE done, its row locks held), the
test starts B (another session, or real `tessera` processes) and lets A commit only once B is
seen waiting on a lock in `pg_locks`. No sleeps stand in for "B is waiting by now"."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from tessera.core import scrip_runner
from tessera.core.context import Context, ScripRunner, open_context
from tessera.core.db import Database
from tessera.core.fast_sql import Ride
from tests.support import pg

WAIT_S = 30.0

_WAITING = """
    SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE NOT l.granted AND a.datname = current_database()
       AND (%(pids)s::int[] IS NULL OR l.pid = ANY(%(pids)s::int[]))
"""


def wait_for_waiters(
    database: Database,
    count: int = 1,
    pids: list[int] | None = None,
    gone: Callable[[], str | None] = lambda: None,
    timeout: float = WAIT_S,
) -> None:
    """Return once `count` backends (of `pids`, or any on this database) wait on a lock; fail
    as soon as `gone()` says why they never will (a waiter that finished without waiting)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(pg.conninfo(database.url), autocommit=True) as conn:
        while True:
            row = conn.execute(_WAITING, {"pids": pids}).fetchone()
            if row is not None and row[0] >= count:
                return
            reason = gone()
            if reason:
                raise AssertionError(f"finished without waiting on the lock: {reason}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} session(s) never waited on a lock within {timeout} s")
            time.sleep(0.002)  # polling the condition, not guessing a delay


class _ThenPause:
    """Core's scrip runner for a while: the scrips as always, then `during(ctx)`, which runs
    inside the unit with everything written and its row locks held, before it commits."""

    def __init__(self, real: ScripRunner | None, during: Callable[[Context], None]) -> None:
        self.real, self.during = real, during

    def ride(self, ctx: Context, ticket: Any) -> Ride | None:
        return self.real.ride(ctx, ticket) if self.real is not None else None

    def run(self, ctx: Context, transactions: list[Any], ride: Ride | None) -> None:
        if self.real is not None:
            self.real.run(ctx, transactions, ride)
        self.during(ctx)


@contextmanager
def pause_before_commit(during: Callable[[Context], None]) -> Iterator[None]:
    """While inside, every operation that records a change calls `during(ctx)` just before it
    commits (after its scrips), with everything written and its row locks held."""
    with scrip_runner.replaced(_ThenPause(scrip_runner.runner(), during)):
        yield


@contextmanager
def before_commit(during: Callable[[], None]) -> Iterator[None]:
    """While inside, the first operation this thread runs calls `during()` just before it commits,
    with everything written and its row locks held."""
    me = threading.current_thread()
    done = False

    def once_here(ctx: Context) -> None:
        nonlocal done
        if threading.current_thread() is me and not done:
            done = True
            during()

    with pause_before_commit(once_here):
        yield
    assert done, "the holding operation recorded nothing, so it never held a lock"


@dataclass
class Outcome:
    """What the waiting side's operation returned, or raised."""

    value: Any = None
    error: BaseException | None = None

    def unwrap(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


def while_holding(
    database: Database,
    holder: str,
    hold: Callable[[Context], Any],
    waiter: str,
    wait: Callable[[Context], Any],
) -> tuple[Any, Outcome]:
    """`holder` runs `hold`; before it commits, `waiter` starts `wait` in a session of its own and
    waits on the lock; then `hold` commits and `wait` goes on. Returns both outcomes."""
    outcome = Outcome()
    pid: list[int] = []
    started = threading.Event()

    def run_waiter() -> None:
        try:
            with database.session() as session:
                pid.append(session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                started.set()
                outcome.value = wait(open_context(session, waiter))
        except BaseException as exc:  # handed to the test
            outcome.error = exc
        finally:
            started.set()

    thread = threading.Thread(target=run_waiter, name="waiter")

    def let_waiter_queue_up() -> None:
        thread.start()
        assert started.wait(WAIT_S)

        def gone() -> str | None:
            return None if thread.is_alive() else repr(outcome)

        wait_for_waiters(database, 1, pids=pid, gone=gone)

    with database.session() as session, before_commit(let_waiter_queue_up):
        held = hold(open_context(session, holder))
    thread.join(WAIT_S)
    assert not thread.is_alive(), "the waiting side never finished"
    return held, outcome

"""Operations on two tickets lock them in one order (by id), so they wait for each other instead of
deadlocking; a deadlock the order cannot rule out is run again inside the unit of work, unseen."""

from __future__ import annotations

import threading

import psycopg
import pytest

from tessera.core import links, ticket_read, tickets
from tessera.core.context import open_context
from tessera.core.lifecycles.errors import TransitionRefused
from tests.support import pg
from tests.support.lockwait import WAIT_S, wait_for_waiters, while_holding
from tests.support.wait import wait_until

ROUNDS = 40


def _deadlocks(database) -> int:
    with psycopg.connect(pg.conninfo(database.url), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        sql = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


def _hammer(database, work: dict[str, list]) -> dict[str, list[str]]:
    """Run each thread's list of operations (callables taking a context) in lockstep: the n-th
    operations of all threads start together (the lists are as long as each other)."""
    errors: dict[str, list[str]] = {name: [] for name in work}
    step = threading.Barrier(len(work))

    def run(name: str) -> None:
        with database.session() as s:
            ctx = open_context(s, "root")
            for op in work[name]:
                step.wait(WAIT_S)
                try:
                    op(ctx)
                except Exception as exc:  # counted, and shown if any
                    errors[name].append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(name,)) for name in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


@pytest.mark.fault
def test_linking_a_to_b_while_linking_b_to_a_never_deadlocks(database, committed_desk) -> None:
    a, b = committed_desk.ticket(subject="a").id, committed_desk.ticket(subject="b").id

    def both_ways(this: int, other: int) -> list:
        ops = []
        for _ in range(ROUNDS):
            ops.append(lambda ctx: links.add_link(ctx, this, "RefersTo", other))
            ops.append(lambda ctx: links.remove_link(ctx, this, "RefersTo", other))
        return ops

    before = _deadlocks(database)
    errors = _hammer(database, {"a->b": both_ways(a, b), "b->a": both_ways(b, a)})
    assert errors == {"a->b": [], "b->a": []}
    deadlocks = _deadlocks(database) - before
    assert deadlocks == 0  # the lock order, not the retry, keeps these apart
    print(
        f"fault: links both ways: {4 * ROUNDS} link/unlink ops in lockstep, 0 errors, {deadlocks} deadlocks"
    )


@pytest.mark.fault
def test_merging_while_linking_the_pair_the_other_way_never_deadlocks(database, committed_desk) -> None:
    pairs = [
        (committed_desk.ticket(subject=f"a{n}").id, committed_desk.ticket(subject=f"b{n}").id)
        for n in range(ROUNDS // 4)
    ]
    merge_ops = [lambda ctx, a=a, b=b: links.merge(ctx, a, b) for a, b in pairs]
    # The other side links b -> a: before or after the merge, both always succeed.
    link_ops = [lambda ctx, a=a, b=b: links.add_link(ctx, b, "DependsOn", a) for a, b in pairs]
    errors = _hammer(database, {"merge": merge_ops, "link": link_ops})
    allowed = "cannot link to itself"  # the link came after the merge: b -> a is b -> b now
    assert errors["merge"] == []
    assert all(allowed in e for e in errors["link"]), errors["link"]
    print(f"fault: merge against link: {len(pairs)} pairs in lockstep, 0 errors shown")


def test_a_deadlock_is_run_again_unseen(database, committed_desk) -> None:
    """A resolve share-locks the ticket it depends on after locking its own (the order cannot hold
    there); another session holding the dependency and then wanting the ticket closes the cycle.
    PostgreSQL aborts the resolve; `operation` runs it again, and it succeeds."""
    dependency = committed_desk.ticket(subject="dependency", status="resolved")
    ticket = committed_desk.ticket(subject="ticket")
    links.add_link(committed_desk.root, ticket.id, "DependsOn", dependency.id)
    before = _deadlocks(database)
    outcome: dict[str, object] = {}

    def resolve() -> None:
        try:
            with database.session() as s:
                outcome["txn"] = tickets.set_status(open_context(s, "root"), ticket.id, "resolved")
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    with psycopg.connect(pg.conninfo(database.url)) as other:
        other.execute("SET deadlock_timeout = '60s'")  # so the resolve is the one chosen to abort
        other.execute("SELECT 1 FROM tickets WHERE id = %s FOR UPDATE", (dependency.id,))
        thread = threading.Thread(target=resolve)
        thread.start()
        wait_for_waiters(database, 1)  # the resolve holds its ticket and waits for the dependency
        # Closing the cycle: this waits until the resolve is aborted and lets go of its ticket.
        other.execute("SELECT 1 FROM tickets WHERE id = %s FOR UPDATE", (ticket.id,))
        wait_for_waiters(database, 1)  # the resolve, run again, now waits for its own ticket
        other.rollback()
    thread.join(WAIT_S)
    assert "error" not in outcome, outcome
    assert getattr(outcome["txn"], "new_value", None) == "resolved"
    # It did happen, and no one was told. The server's count is written when the aborted backend
    # flushes its statistics: when idle, later if it flushed within the last second, and up to 60 s
    # later when the stats locks are busy (a loaded server). A backend that exits flushes at once:
    # closing the pool's connections (the resolve's among them) makes the count due now.
    database.engine.dispose()
    wait_until(
        lambda: _deadlocks(database) == before + 1, timeout=30, what="the deadlock in pg_stat_database"
    )


def test_resolve_waits_for_a_dependency_being_reopened_and_is_refused(database, committed_desk) -> None:
    dependency = committed_desk.ticket(subject="dependency", status="resolved")
    ticket = committed_desk.ticket(subject="ticket")
    links.add_link(committed_desk.root, ticket.id, "DependsOn", dependency.id)
    _, resolve = while_holding(
        database,
        "root",
        lambda ctx: tickets.set_status(ctx, dependency.id, "open"),
        "root",
        lambda ctx: tickets.set_status(ctx, ticket.id, "resolved"),
    )
    assert isinstance(resolve.error, TransitionRefused), resolve
    assert f"depends on unresolved {dependency.display_id}" in str(resolve.error)


def test_resolve_waits_for_a_dependency_being_moved_and_still_sees_it(database, committed_desk) -> None:
    dependency = committed_desk.ticket(subject="dependency")
    ticket = committed_desk.ticket(subject="ticket")
    links.add_link(committed_desk.root, ticket.id, "DependsOn", dependency.id)
    _, resolve = while_holding(
        database,
        "root",
        lambda ctx: tickets.set_fields(ctx, dependency.id, {"queue": "Network"}),
        "root",
        lambda ctx: tickets.set_status(ctx, ticket.id, "resolved"),
    )
    assert isinstance(resolve.error, TransitionRefused), resolve


def test_link_refs_in_either_order_name_the_same_tickets(committed_desk) -> None:
    a, b = committed_desk.ticket(subject="a"), committed_desk.ticket(subject="b")
    got = ticket_read.lock_tickets(committed_desk.root, b.display_id, a.id)
    assert [t.id for t in got] == [b.id, a.id]
    committed_desk.session.rollback()
    with pytest.raises(Exception, match="no ticket TKT-9999"):
        ticket_read.lock_tickets(committed_desk.root, a.id, 9999)

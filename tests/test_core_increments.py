"""`ticket set ID priority+=10 cf.Count+=1`: numbers added under the ticket's lock, so increments
from many agents at once all count, where a client's read-then-set loses some."""

from __future__ import annotations

import threading

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from tessera.core import customfields, tickets
from tessera.core.context import open_context
from tessera.core.db import make_engine
from tessera.core.errors import InvalidInput
from tests.support import pg
from tests.support.cli import start
from tests.support.lockwait import WAIT_S, wait_for_waiters


def _priority_and_count(database, ticket_id: int) -> tuple[int, str | None, int]:
    """Priority, cf.Count and how many Set/CustomField transactions the ticket has."""
    with database.session() as s:
        t = tickets.get_ticket(open_context(s, "root"), ticket_id)
        count = s.execute(
            text("SELECT value FROM custom_field_values WHERE ticket_id = :t"), {"t": ticket_id}
        ).scalar()
        changes = s.execute(
            text("SELECT count(*) FROM transactions WHERE ticket_id = :t AND type IN ('Set', 'CustomField')"),
            {"t": ticket_id},
        ).scalar_one()
        return t.priority, count, changes


def test_plus_and_minus_add_to_numbers_and_integer_fields(desk) -> None:
    customfields.create_field(desk.root, "Count", type_="integer")
    t = desk.ticket(priority=5)
    txns = tickets.set_fields(desk.root, t.id, tickets.parse_assignments(["priority+=10", "cf.Count+=2"]))
    assert [(x.field, x.old_value, x.new_value) for x in txns] == [
        ("Priority", "5", "15"),
        ("Count", None, "2"),
    ]
    txns = tickets.set_fields(
        desk.root, t.id, tickets.parse_assignments(["priority-=20", "cf.Count-=1", "time_worked+=30"])
    )
    assert [(x.field, x.new_value) for x in txns] == [
        ("Priority", "-5"),
        ("Count", "1"),
        ("TimeWorked", "30"),
    ]


@pytest.mark.parametrize(
    ("words", "fragment"),
    [
        (["subject+=x"], "subject is not a number: += and -= apply to priority"),
        (["priority+=x"], "priority+=: 'x' is not a whole number"),
        (["priority+=2147483647"], "priority: 0 + 2147483647"),  # fits, then the next one does not
        (["cf.Colour+=1"], "custom field 'Colour' holds select values"),
        (["cf.Tags+=1"], "custom field 'Tags' holds several values"),
        (["nope+=1"], "unknown field 'nope+'"),
    ],
)
def test_plus_and_minus_refuse_what_is_not_one_number(desk, words: list[str], fragment: str) -> None:
    customfields.create_field(desk.root, "Colour", type_="select", values=["Red"])
    customfields.create_field(desk.root, "Tags", type_="integer", multiple=True)
    t = desk.ticket(priority=0)
    if words == ["priority+=2147483647"]:
        tickets.set_fields(desk.root, t.id, tickets.parse_assignments(words))
        words, fragment = ["priority+=1"], "priority: 2147483647 + 1 is out of range"
    with pytest.raises(InvalidInput, match=fragment.replace("+", r"\+").replace("(", r"\(")):
        tickets.set_fields(desk.root, t.id, tickets.parse_assignments(words))


def test_twenty_agents_adding_at_once_lose_nothing(database, ticket_id) -> None:
    with database.session() as s:
        customfields.create_field(open_context(s, "root"), "Count", type_="integer")
    workers, rounds = 20, 5
    start = threading.Barrier(workers)
    errors: list[str] = []
    sessions = sessionmaker(make_engine(database.url, pool_size=workers), expire_on_commit=False)

    def add() -> None:
        with sessions() as s:
            ctx = open_context(s, "root")
            start.wait(WAIT_S)
            for _ in range(rounds):
                try:
                    tickets.set_fields(ctx, ticket_id, {"priority+": "1", "cf.Count+": "1"})
                except Exception as exc:  # counted below
                    errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=add) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    sessions.kw["bind"].dispose()
    assert errors == []
    priority, count, changes = _priority_and_count(database, ticket_id)
    assert (priority, count, changes) == (workers * rounds, str(workers * rounds), 2 * workers * rounds)
    print(f"fault: increments: {workers * rounds} by {workers} agents at once, 0 lost, all in the history")


@pytest.mark.fault
@pytest.mark.slow  # real processes on a shared machine
def test_cli_increments_queued_on_one_lock_all_count(database, ticket_id, cli_env) -> None:
    with database.session() as s:
        customfields.create_field(open_context(s, "root"), "Count", type_="integer")
    n = 8
    cli_env = {**cli_env, "TESSERA_DB_TIMEOUT": "600"}  # held while they start: past lock_timeout
    with psycopg.connect(pg.conninfo(database.url)) as holder:
        holder.execute("SELECT 1 FROM tickets WHERE id = %s FOR UPDATE", (ticket_id,))
        procs = [
            start(["--user", "root", "ticket", "set", str(ticket_id), "priority+=10", "cf.Count+=1"], cli_env)
            for _ in range(n)
        ]
        try:
            wait_for_waiters(database, n, timeout=120)
        finally:
            holder.rollback()
        outputs = [(p.wait(120), p.read("stdout"), p.read("stderr"))[1:] for p in procs]
    assert [p.returncode for p in procs] == [0] * n, outputs
    priority, count, _ = _priority_and_count(database, ticket_id)
    assert (priority, count) == (10 * n, str(n))

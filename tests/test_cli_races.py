"""Races between real `tessera` processes: the loser of a race gets a one-line answer."""

from __future__ import annotations

import psycopg
import pytest

from tessera.core import grants, queues, users
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.schemas import TicketCreate
from tessera.core.tickets import create_ticket
from tests.support import pg
from tests.support.cli import start
from tests.support.lockwait import wait_for_waiters

AGENTS = [f"agent{n:02d}" for n in range(20)]


def _desk(database) -> int:
    with database.session() as s:
        bootstrap(s, "root")
        root = open_context(s, "root")
        queues.create_queue(root, "General")
        for name in AGENTS:
            users.add_user(root, name, email=f"{name}@desk.example", privileged=True)
        for right in ("SeeQueue", "ShowTicket", "OwnTicket", "TakeTicket", "StealTicket"):
            grants.grant(root, right, "role:Privileged", "General")
        return create_ticket(root, TicketCreate(queue="General", subject="race me")).id


@pytest.mark.fault
@pytest.mark.slow  # twenty processes on a shared machine
def test_twenty_takers_queued_on_one_ticket_one_wins_the_rest_are_told_who_owns_it(database, cli_env) -> None:
    ticket_id = _desk(database)
    # The lock is held while twenty processes start (a minute on a busy machine): longer than a
    # change waits for a lock by default (a third of TESSERA_DB_TIMEOUT).
    cli_env = {**cli_env, "TESSERA_DB_TIMEOUT": "600"}
    # Hold the ticket's row lock while all twenty start, so that every one of them waits on it
    # and they race for it the moment it is let go (as agents pressing `take` together do).
    with psycopg.connect(pg.conninfo(database.url)) as holder:
        holder.execute("SELECT 1 FROM tickets WHERE id = %s FOR UPDATE", (ticket_id,))
        procs = [start(["--user", name, "ticket", "take", str(ticket_id)], cli_env) for name in AGENTS]
        try:
            wait_for_waiters(database, len(AGENTS), timeout=120)
        finally:
            holder.rollback()  # let go: all twenty race for the lock now
        outputs = [(p.wait(120), p.read("stdout"), p.read("stderr"))[1:] for p in procs]
    results = [(name, p.returncode, *out) for name, p, out in zip(AGENTS, procs, outputs, strict=True)]
    winners = [name for name, code, _, _ in results if code == 0]
    assert len(winners) == 1, results
    (winner,) = winners
    for name, code, _out, err in results:
        if name == winner:
            continue
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 5, (name, code, err)
        assert lines == [
            f"tessera: TKT-{ticket_id:04d} is owned by {winner}; steal it instead: "
            f"tessera ticket steal TKT-{ticket_id:04d}"
        ], (name, err)
    told = sum(1 for name, code, _, _ in results if name != winner and code == 5)
    print(f"fault: take race: {len(AGENTS)} takers queued on one lock: 1 winner, {told} told who owns it")

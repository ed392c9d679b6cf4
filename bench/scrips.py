"""Ticket creates and status changes per second: default scrips on, scrips off, hand-written SQL.

Run: .venv/bin/python bench/scrips.py [--n 200] [--rounds 11] [--profile] [--no-count]
Uses the test PostgreSQL (embedded, or $TESSERA_TEST_DATABASE_URL) with a fresh migrated database.
The hand-written baseline does, with psycopg and one transaction per unit, the same rows the
default scrips produce: create = ticket + requestor watcher + Create transaction + message +
autoreply outbox row + 3 trace rows; status change = locked read + update + Status transaction +
"resolved" outbox row + 1 trace row. Ratios are printed against it.

It also counts, from libpq's own trace of the connection (`PGconn.trace`), the statements and the
round trips (each time the client waits for the server's answer) of each unit, both ways.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from tessera.core import queues, tickets
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.db import open_database
from tessera.core.schemas import MessageIn, TicketCreate
from tests.support import pg

REQUESTOR = "customer@example.com"


class Wire:
    """Statements and round trips on one psycopg connection, from libpq's trace of it."""

    def __init__(self) -> None:
        self.counts: dict[str, tuple[int, int]] = {}
        self._conn = None
        self._file = None

    def watch(self, conn) -> None:  # a psycopg connection
        if self._conn is None:
            self._conn = conn
        assert conn is self._conn, "the units ran on more than one connection"

    @contextlib.contextmanager
    def counting(self, what: str):
        """Count what the connection sends inside the block, under `what`."""
        if self._conn is None:
            yield
            return
        with tempfile.TemporaryFile("w+") as f:
            self._conn.pgconn.trace(f.fileno())
            try:
                yield
            finally:
                self._conn.pgconn.untrace()
            f.seek(0)
            self.counts[what] = _wire_counts(f)


def _wire_counts(lines) -> tuple[int, int]:
    """(statements, round trips) in a libpq trace: a statement is a Query or an Execute message;
    a round trip is each time the client, having sent, starts reading the server's answer."""
    statements = trips = 0
    last = ""
    for line in lines:
        parts = line.split("\t")
        if len(parts) < 4 or parts[1] not in ("F", "B"):
            continue  # the text of a statement spread over lines
        if parts[1] == "F" and parts[3].strip() in ("Query", "Execute"):
            statements += 1
        if parts[1] == "B" and last == "F":
            trips += 1
        last = parts[1]
    return statements, trips


def tessera_run(
    db, n: int, scrips: bool, tag: str, profile: bool = False, wire: Wire | None = None
) -> tuple[float, float, str]:
    prof = cProfile.Profile() if profile else None
    wire = wire or Wire()
    with db.session() as session:
        ctx = open_context(session, "root")
        ctx.scrips = scrips  # on for every caller of core; off only as a bulk load turns it off
        session.commit()  # (the reads above ended: every unit counted starts its own transaction)
        ids = []
        if prof:
            prof.enable()
        started = time.perf_counter()
        with wire.counting("create"):
            for i in range(n):
                data = TicketCreate(
                    queue="General",
                    subject=f"Bench ticket {tag}.{i}",
                    requestors=[REQUESTOR],
                    message=MessageIn(body="Something is broken.\nPlease help."),
                )
                ids.append(tickets.create_ticket(ctx, data).id)
                wire.watch(session.connection().connection.driver_connection)
        create_s = time.perf_counter() - started
        started = time.perf_counter()
        with wire.counting("status"):
            for tid in ids:
                tickets.set_status(ctx, tid, "resolved")
        status_s = time.perf_counter() - started
        if prof:
            prof.disable()
    where = ""
    if prof:
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out).sort_stats(os.environ.get("SORT", "tottime"))
        stats.print_stats(os.environ.get("FILTER", ""), 30)
        where = out.getvalue()
    return n / create_s, n / status_s, where


def hand_run(url, n: int, tag: str, wire: Wire | None = None) -> tuple[float, float]:
    conninfo = pg.conninfo(url)
    wire = wire or Wire()
    with psycopg.connect(conninfo) as conn:
        cur = conn.cursor()
        root = cur.execute("SELECT id FROM users WHERE name = 'root'").fetchone()[0]
        queue = cur.execute("SELECT id FROM queues WHERE name = 'General'").fetchone()[0]
        requestor = cur.execute("SELECT id FROM users WHERE lower(email) = %s", (REQUESTOR,)).fetchone()[0]
        conn.commit()
        ids = []
        started = time.perf_counter()
        wire.watch(conn)
        creating = wire.counting("create")
        creating.__enter__()
        for i in range(n):
            tid = cur.execute(
                "INSERT INTO tickets (queue_id, subject, status, priority, initial_priority, final_priority,"
                " time_estimated, time_left, created, updated, creator_id, updated_by_id)"
                " VALUES (%s, %s, 'new', 0, 0, 0, 0, 0, now(), now(), %s, %s) RETURNING id",
                (queue, f"Hand ticket {tag}.{i}", root, root),
            ).fetchone()[0]
            cur.execute(
                "INSERT INTO watchers (ticket_id, role, user_id) VALUES (%s, 'Requestor', %s)",
                (tid, requestor),
            )
            mid = f"<hand.{uuid.uuid4().hex}@desk.example>"
            txn = cur.execute(
                "INSERT INTO transactions (ticket_id, type, actor_id, created, data)"
                " VALUES (%s, 'Create', %s, now(), %s) RETURNING id",
                (tid, root, json.dumps({"message_id": mid})),
            ).fetchone()[0]
            cur.execute(
                "INSERT INTO attachments (transaction_id, message_id, subject, headers, content_type,"
                " content, size, created) VALUES (%s, %s, %s, '', 'text/plain', %s, 30, now())",
                (txn, mid, f"Hand ticket {tag}.{i}", "Something is broken.\nPlease help."),
            )
            _hand_mail(cur, tid, txn, f"AutoReply: Hand ticket {tag}.{i}")
            for outcome in ("committed", "skipped", "skipped"):
                cur.execute(
                    "INSERT INTO scrip_runs (scrip_id, ticket_id, transaction_id, stage, depth, fired,"
                    " outcome, reason, created)"
                    " VALUES (NULL, %s, %s, 'TransactionCreate', 0, true, %s, '', now())",
                    (tid, txn, outcome),
                )
            conn.commit()
            ids.append(tid)
        creating.__exit__(None, None, None)
        create_s = time.perf_counter() - started
        started = time.perf_counter()
        changing = wire.counting("status")
        changing.__enter__()
        for tid in ids:
            cur.execute("SELECT status, version FROM tickets WHERE id = %s FOR UPDATE", (tid,)).fetchone()
            cur.execute(
                "UPDATE tickets SET status = 'resolved', resolved = now(), updated = now(),"
                " version = version + 1 WHERE id = %s",
                (tid,),
            )
            txn = cur.execute(
                "INSERT INTO transactions (ticket_id, type, field, old_value, new_value, actor_id, created,"
                " data) VALUES (%s, 'Status', 'Status', 'new', 'resolved', %s, now(), '{}') RETURNING id",
                (tid, root),
            ).fetchone()[0]
            _hand_mail(cur, tid, txn, "Resolved")
            cur.execute(
                "INSERT INTO scrip_runs (scrip_id, ticket_id, transaction_id, stage, depth, fired,"
                " outcome, reason, created)"
                " VALUES (NULL, %s, %s, 'TransactionCreate', 0, true, 'committed', '', now())",
                (tid, txn),
            )
            conn.commit()
        changing.__exit__(None, None, None)
        status_s = time.perf_counter() - started
    return n / create_s, n / status_s


def _hand_mail(cur, tid: int, txn: int, subject: str) -> None:
    mid = f"<hand.{uuid.uuid4().hex}@desk.example>"
    cur.execute(
        "INSERT INTO outbox (ticket_id, transaction_id, message_id, mail_from, recipients, summary, message,"
        " status, attempts, next_attempt, created) VALUES (%s, %s, %s, 'help@desk.example', %s, %s, %s,"
        " 'pending', 0, now(), now())",
        (
            tid,
            txn,
            mid,
            json.dumps([REQUESTOR]),
            json.dumps({"to": [REQUESTOR], "subject": subject}),
            f"Subject: {subject}\n\nbody\n",
        ),
    )


def _connection_of(db):
    """The psycopg connection a session of `db` runs on (the pool keeps one, the same each time)."""
    with db.session() as session:
        return session.connection().connection.driver_connection


def fresh_desk(server):
    url = pg.clone(server, pg.ensure_template(server), prefix="tessera_e")
    db = open_database(url)
    with db.session() as session:
        bootstrap(session, "root")
        root = open_context(session, "root")
        queues.create_queue(
            root,
            "General",
            correspond_address="help@desk.example",
            comment_address="help-comment@desk.example",
        )
        # The requestor exists, as on a desk that has seen this customer before.
        tickets.create_ticket(root, TicketCreate(queue="General", subject="warm-up", requestors=[REQUESTOR]))
    db.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200, help="tickets per run")
    parser.add_argument(
        "--rounds", type=int, default=11, help="rounds; each runs all three, in shuffled order"
    )
    parser.add_argument("--profile", action="store_true", help="print where the time goes (scrips on)")
    parser.add_argument(
        "--no-count", action="store_true", help="skip counting statements and round trips per unit"
    )
    args = parser.parse_args()
    server = pg.server_url()
    urls = {name: fresh_desk(server) for name in MODES}
    dbs = {name: open_database(urls[name]) for name in ("off", "on")}
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in MODES}
    order = random.Random(5)
    try:
        for r in range(args.rounds):
            # Each round runs the three back to back, in a shuffled order, and is compared within
            # itself: a slow patch of a shared machine then slows both sides of a ratio alike.
            for name in order.sample(MODES, len(MODES)):
                if name == "hand":
                    rates[name].append(hand_run(urls[name], args.n, str(r)))
                else:
                    c, s, _ = tessera_run(dbs[name], args.n, scrips=name == "on", tag=str(r))
                    rates[name].append((c, s))
        print(f"{args.n} tickets per run, {args.rounds} rounds; one unit of work (one DB transaction)")
        print("per create and per status change (new -> resolved); medians over the rounds")
        print(f"{'':28} {'creates/s':>10} {'status/s':>10}")
        for name, label in (
            ("hand", "hand-written psycopg SQL"),
            ("off", "tessera, scrips disabled"),
            ("on", "tessera, default scrips"),
        ):
            create = median(c for c, _ in rates[name])
            status = median(s for _, s in rates[name])
            print(f"{label:28} {create:10.0f} {status:10.0f}")
        print("ratios: median of each round's own ratio (min-max over rounds)")
        for label, a, b in (
            ("scrips on / hand-written", "on", "hand"),
            ("scrips on / scrips off", "on", "off"),
            ("scrips off / hand-written", "off", "hand"),
        ):
            parts = []
            for what, k in (("creates", 0), ("status changes", 1)):
                ratios = [x[k] / y[k] for x, y in zip(rates[a], rates[b], strict=True)]
                parts.append(f"{what} {median(ratios):4.0%} ({min(ratios):.0%}-{max(ratios):.0%})")
            print(f"{label:27} " + "   ".join(parts))
        if not args.no_count:
            count = 20
            wires = {"hand": Wire(), "on": Wire(), "off": Wire()}
            hand_run(urls["hand"], count, "count", wires["hand"])
            for name in ("on", "off"):
                wires[name].watch(_connection_of(dbs[name]))
                tessera_run(dbs[name], count, scrips=name == "on", tag="count", wire=wires[name])
            print(f"per unit, from libpq's trace of {count} units each: statements / round trips")
            print(f"{'':28} {'create':>10} {'status':>10}   (BEGIN and COMMIT count as statements)")
            for name, label in (
                ("hand", "hand-written psycopg SQL"),
                ("off", "tessera, scrips disabled"),
                ("on", "tessera, default scrips"),
            ):
                cells = []
                for what in ("create", "status"):
                    statements, trips = wires[name].counts[what]
                    cells.append(f"{statements / count:4.1f} / {trips / count:3.1f}")
                print(f"{label:28} {cells[0]:>10} {cells[1]:>10}")
        if args.profile:
            print(tessera_run(dbs["on"], min(args.n, 200), scrips=True, tag="profile", profile=True)[2])
    finally:
        for db in dbs.values():
            db.dispose()
        for url in urls.values():
            pg.drop(url)


MODES = ("hand", "off", "on")


if __name__ == "__main__":
    main()

"""Search at scale: 1,000,000 tickets and 5,000,000 transactions, first pages timed.

Run: .venv/bin/python bench/search.py [--tickets 1000000] [--runs 15] [--reseed]

Seeds (once; later runs reuse the database `tessera_bench_<N>`) with COPY, indexes dropped during
the load and rebuilt after, then ANALYZE. Each query is run through Tessera's search (TicketSQL
parse + compile + rights filter + ORM load of the page) and as hand-written SQL for the same page
(psycopg, no ORM), as an agent who may see three of the five queues. Prints medians and the ratio.
The database is the embedded test server (`$TESSERA_TEST_DATA_DIR` or the user cache dir), or
`$TESSERA_BENCH_DATABASE_URL`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url

from tessera.core import migrate
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.db import open_database
from tests.support import pg

QUEUES = ["Queue 1", "Queue 2", "Queue 3", "Queue 4", "Queue 5"]
AGENTS = 50
REQUESTORS = 20_000
WORDS = [
    "printer",
    "network",
    "vpn",
    "laptop",
    "password",
    "account",
    "email",
    "server",
    "disk",
    "backup",
    "monitor",
    "phone",
    "badge",
    "invoice",
    "access",
    "license",
    "update",
    "crash",
    "slow",
    "error",
    "timeout",
    "install",
    "wifi",
    "firewall",
]
RARE = "zanzibar"
TABLES = ("tickets", "transactions", "attachments", "watchers", "custom_field_values")


def server() -> tuple[object, str]:
    raw = os.environ.get("TESSERA_BENCH_DATABASE_URL")
    base = make_url(raw).set(drivername="postgresql+psycopg") if raw else pg.server_url()
    return base, pg.conninfo(base, "postgres")


def seed(url, n: int) -> None:
    db = open_database(url)
    migrate.upgrade(db)
    with db.session() as s:
        bootstrap(s, "root")
        ctx = open_context(s, "root")
        from tessera.core import customfields, grants, queues, users

        for name in QUEUES:
            queues.create_queue(ctx, name)
        for i in range(AGENTS):
            users.add_user(ctx, f"agent{i}", email=f"agent{i}@desk.example")
        customfields.create_field(
            ctx, "Severity", type_="select", values=["Low", "Medium", "High", "Critical"]
        )
        for right in ("ShowTicket", "OwnTicket", "ShowTicketComments"):
            for q in QUEUES[:3]:
                grants.grant(ctx, right, "role:Privileged", q)
    db.dispose()
    rng = random.Random(7)
    conninfo = pg.conninfo(url)
    with psycopg.connect(conninfo) as conn:
        queue_ids = [r[0] for r in conn.execute("SELECT id FROM queues ORDER BY id")]
        agent_ids = [r[0] for r in conn.execute("SELECT id FROM users WHERE name LIKE 'agent%' ORDER BY id")]
        cf_id = conn.execute("SELECT id FROM custom_fields WHERE name = 'Severity'").fetchone()[0]
        with conn.cursor().copy("COPY users (name, email, privileged) FROM STDIN") as copy:
            for i in range(REQUESTORS):
                copy.write_row((f"req{i}@customer.example", f"req{i}@customer.example", False))
        req_ids = [r[0] for r in conn.execute("SELECT id FROM users WHERE NOT privileged ORDER BY id")]
        saved = []
        for table in TABLES:
            for name, definition in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE 'pk_%%'",
                (table,),
            ).fetchall():
                saved.append(definition)
                conn.execute(f'DROP INDEX "{name}"')
        conn.commit()
        started = time.perf_counter()
        now = datetime.now(UTC)
        statuses = ["new"] * 15 + ["open"] * 30 + ["stalled"] * 5 + ["resolved"] * 45 + ["rejected"] * 5
        severities = ["Low"] * 50 + ["Medium"] * 30 + ["High"] * 15 + ["Critical"] * 5
        with conn.cursor().copy(
            "COPY tickets (id, queue_id, subject, status, owner_id, priority, initial_priority, created, updated,"
            " creator_id) FROM STDIN"
        ) as copy:
            for tid in range(1, n + 1):
                created = now - timedelta(minutes=rng.randint(0, 3 * 365 * 1440))
                status = rng.choice(statuses)
                owner = rng.choice(agent_ids) if status != "new" else None
                priority = rng.randint(0, 100)
                subject = " ".join(rng.choices(WORDS, k=4))
                copy.write_row(
                    (
                        tid,
                        rng.choice(queue_ids),
                        subject,
                        status,
                        owner,
                        priority,
                        priority,
                        created,
                        created + timedelta(hours=rng.randint(0, 200)),
                        rng.choice(req_ids),
                    )
                )
        with conn.cursor().copy("COPY watchers (ticket_id, role, user_id) FROM STDIN") as copy:
            for tid in range(1, n + 1):
                copy.write_row((tid, "Requestor", rng.choice(req_ids)))
        with conn.cursor().copy(
            "COPY custom_field_values (ticket_id, custom_field_id, value) FROM STDIN"
        ) as copy:
            for tid in range(1, n + 1):
                copy.write_row((tid, cf_id, rng.choice(severities)))
        txn_id = 0
        with conn.cursor().copy(
            "COPY transactions (id, ticket_id, type, actor_id, created) FROM STDIN"
        ) as copy:
            for tid in range(1, n + 1):
                for kind in ("Create", "Correspond", "Status", "Correspond", "Comment"):
                    txn_id += 1
                    copy.write_row((txn_id, tid, kind, rng.choice(agent_ids), now))
        with conn.cursor().copy(
            "COPY attachments (transaction_id, content_type, content, size) FROM STDIN"
        ) as copy:
            for t in range(1, txn_id + 1, 5):  # the Create message of every ticket, and one reply in two
                for offset in (0, 1) if t % 10 == 1 else (0,):
                    words = rng.choices(WORDS, k=12)
                    if rng.random() < 0.001:
                        words.append(RARE)
                    body = " ".join(words)
                    copy.write_row((t + offset, "text/plain", body, len(body)))
        loaded = time.perf_counter() - started
        conn.execute(f"SELECT setval(pg_get_serial_sequence('tickets', 'id'), {n})")
        conn.execute(f"SELECT setval(pg_get_serial_sequence('transactions', 'id'), {txn_id})")
        conn.commit()
        started = time.perf_counter()
        conn.autocommit = True
        conn.execute("SET maintenance_work_mem = '1GB'")
        for definition in saved:
            conn.execute(definition)
        conn.execute("ANALYZE")
        print(
            f"seeded {n:,} tickets, {txn_id:,} transactions: COPY {loaded:.0f} s, indexes+analyze "
            f"{time.perf_counter() - started:.0f} s"
        )


def median_ms(fn, runs: int) -> float:
    fn()  # warm caches and plans
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    base, admin = server()
    name = f"tessera_bench_{args.tickets}"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and args.reseed:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name)
    if not exists:
        seed(url, args.tickets)
    db = open_database(url)
    migrate.upgrade(db)
    from tessera.core.search import service

    raw = psycopg.connect(pg.conninfo(url), autocommit=True)
    with db.session() as s:
        ctx = open_context(s, "agent7")
        q1 = raw.execute("SELECT id FROM queues WHERE name = 'Queue 1'").fetchone()[0]
        agent7 = ctx.actor.id
        visible = [r[0] for r in raw.execute("SELECT id FROM queues WHERE name = ANY(%s)", (QUEUES[:3],))]
        cases = [
            (
                "Queue = 'Queue 1' AND Status = '__Active__' ORDER BY Priority DESC",
                lambda: service.search(ctx, "Queue = 'Queue 1' AND Status = '__Active__'", "Priority DESC"),
                lambda: raw.execute(
                    "SELECT * FROM tickets WHERE queue_id = %s AND status = ANY(%s) AND merged_into_id IS NULL"
                    " ORDER BY priority DESC, id LIMIT 50",
                    (q1, ["new", "open", "stalled"]),
                ).fetchall(),
            ),
            (
                "Owner = 'agent7' AND Status = '__Active__'",
                lambda: service.search(ctx, "Owner = 'agent7' AND Status = '__Active__'"),
                lambda: raw.execute(
                    "SELECT * FROM tickets WHERE owner_id = %s AND status = ANY(%s) AND queue_id = ANY(%s)"
                    " AND merged_into_id IS NULL ORDER BY id LIMIT 50",
                    (agent7, ["new", "open", "stalled"], visible),
                ).fetchall(),
            ),
            (
                "Requestor = 'req123@customer.example'",
                lambda: service.search(ctx, "Requestor = 'req123@customer.example'"),
                lambda: raw.execute(
                    "SELECT t.* FROM tickets t WHERE EXISTS (SELECT 1 FROM watchers w JOIN users u ON u.id = w.user_id"
                    " WHERE w.ticket_id = t.id AND w.role = 'Requestor' AND lower(u.email) = %s)"
                    " AND t.queue_id = ANY(%s) AND t.status <> 'deleted' AND t.merged_into_id IS NULL"
                    " ORDER BY t.id LIMIT 50",
                    ("req123@customer.example", visible),
                ).fetchall(),
            ),
            (
                "CF.Severity = 'Critical' AND Status = '__Active__'",
                lambda: service.search(ctx, "CF.Severity = 'Critical' AND Status = '__Active__'"),
                lambda: raw.execute(
                    "SELECT t.* FROM tickets t WHERE EXISTS (SELECT 1 FROM custom_field_values v WHERE"
                    " v.ticket_id = t.id AND v.custom_field_id = 1 AND lower(v.value) = 'critical')"
                    " AND t.status = ANY(%s) AND t.queue_id = ANY(%s) AND t.merged_into_id IS NULL"
                    " ORDER BY t.id LIMIT 50",
                    (["new", "open", "stalled"], visible),
                ).fetchall(),
            ),
            (
                f"Content LIKE '{RARE}'",
                lambda: service.search(ctx, f"Content LIKE '{RARE}'"),
                lambda: raw.execute(
                    "SELECT t.* FROM tickets t WHERE t.id IN (SELECT x.ticket_id FROM transactions x JOIN attachments a"
                    " ON a.transaction_id = x.id WHERE a.search_vector @@ websearch_to_tsquery('english', %s)"
                    " UNION SELECT id FROM tickets WHERE search_vector @@ websearch_to_tsquery('english', %s))"
                    " AND t.queue_id = ANY(%s) AND t.status <> 'deleted' AND t.merged_into_id IS NULL"
                    " ORDER BY t.id LIMIT 50",
                    (RARE, RARE, visible),
                ).fetchall(),
            ),
        ]
        print(
            f"{args.tickets:,} tickets; first page (50), median of {args.runs} runs, as an agent who sees 3 of 5 queues"
        )
        print(f"{'query':<62} {'tessera':>9} {'raw SQL':>9} {'ratio':>6} {'rows':>5}")
        for label, ours, theirs in cases:
            rows = len(ours())
            a = median_ms(lambda fn=ours: (fn(), s.expunge_all()), args.runs)
            b = median_ms(theirs, args.runs)
            print(f"{label:<62} {a:>7.1f}ms {b:>7.1f}ms {a / b:>5.1f}x {rows:>5}")
    raw.close()
    db.dispose()


if __name__ == "__main__":
    main()

"""Search at scale: 1,000,000 tickets and 5,000,000 transactions, first pages timed.

Run: .venv/bin/python bench/search.py [--tickets 10000,100000,1000000] [--runs 15] [--reseed]
         [--content-only]

Seeds each size (once; later runs reuse the database `tessera_bench_<N>`, migrating it to head)
with COPY, indexes dropped during the load and rebuilt after, then ANALYZE. Each query is run
through Tessera's search (TicketSQL parse + compile + rights filter + ORM load of the page, what
`tessera search` runs) and as hand-written SQL for the same page (psycopg, no ORM), as an agent who
may see three of the five queues. Full text (`Content LIKE`: a common word in ~60% of tickets, a
rare one, a two-word phrase, a common word with a queue filter) is also run through the TUI's
search path (`listing.list_tickets` as the queue pane asks for a search: 100 rows, newest update
first, with the Due column's time left) and its hand SQL; the four are interleaved within each run.
Prints every run, the medians, and the sizes side by side.
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
from tessera.core.fast_sql import PAGE_PARALLEL_WORKERS, SEARCH_RANDOM_PAGE_COST
from tessera.core.search import service
from tessera.tui.queue_view import PAGE
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
TABLES = ("tickets", "transactions", "attachments", "watchers", "custom_field_values", "ticket_search")
# The full-text documents are built once after the load, as migration 0029 builds them.
SEARCH_TRIGGERS = (("tickets", "tessera_search_ticket"), ("attachments", "tessera_search_attachment"))


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
        for table, trigger in SEARCH_TRIGGERS:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
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
        conn.execute(backfill_sql())
        for table, trigger in SEARCH_TRIGGERS:
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
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


def backfill_sql() -> str:
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "alembic" / "versions" / "0029_ticket_search_pairs.py"
    spec = importlib.util.spec_from_file_location("ticket_search_migration", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BACKFILL


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


# Full text by hand, on the same schema: candidates from the per-ticket documents (ticket_search),
# one word decided by the document, else the exact per-part match and the comment rule checked on
# each (read by the document's id, so that PostgreSQL costs them on candidates only), the page in
# `order`.
HAND_CONTENT = """
SELECT t.* FROM tickets t JOIN ticket_search s ON s.ticket_id = t.id
 WHERE (s.overflow
        OR (s.all_doc @@ tessera_search_prefilter(websearch_to_tsquery('english', %(q)s))
            AND (t.queue_id = ANY(%(readers)s)
                 OR s.public_doc @@ tessera_search_prefilter(websearch_to_tsquery('english', %(q)s)))))
   AND ((tessera_search_doc_decides(websearch_to_tsquery('english', %(q)s)) AND NOT s.overflow)
        OR EXISTS (SELECT 1 FROM tickets o WHERE o.id = s.ticket_id
                   AND o.search_vector @@ websearch_to_tsquery('english', %(q)s))
        OR EXISTS (SELECT 1 FROM transactions x JOIN attachments a ON a.transaction_id = x.id
                    WHERE x.ticket_id = s.ticket_id AND a.search_vector @@ websearch_to_tsquery('english', %(q)s)
                      AND (x.type <> 'Comment'
                           OR EXISTS (SELECT 1 FROM tickets r WHERE r.id = s.ticket_id
                                       AND r.queue_id = ANY(%(readers)s)))))
   AND t.queue_id = ANY(%(visible)s) AND t.status <> 'deleted' AND t.merged_into_id IS NULL {extra}
 ORDER BY {order} LIMIT %(limit)s
"""


CONTENT = [
    ("a common word", "printer", ""),
    ("a rare word", RARE, ""),
    ("a two-word phrase", '"printer network"', ""),
    ("a common word in one queue", "printer", "Queue 2"),
]


def content_cases(ctx, raw, visible: list[int]):
    """(label, CLI path, TUI path, hand SQL for the CLI's page, hand SQL for the TUI's page)."""
    from tessera.core import listing

    out = []
    for label, words, queue in CONTENT:
        quoted = words.replace("'", "\\'")
        query = f"Content LIKE '{quoted}'" + (f" AND Queue = '{queue}'" if queue else "")
        params = {"q": words, "readers": visible, "visible": visible}
        extra = ""
        if queue:
            params["queue"] = raw.execute("SELECT id FROM queues WHERE name = %s", (queue,)).fetchone()[0]
            extra = "AND t.queue_id = %(queue)s"
        cli_sql = HAND_CONTENT.format(extra=extra, order="t.id")
        tui_sql = HAND_CONTENT.format(extra=extra, order="t.updated DESC, t.id DESC")
        out.append(
            (
                f"{query} ({label})",
                lambda q=query: service.search(ctx, q),
                lambda q=query: listing.list_tickets(
                    ctx, None, query=q, sort="updated", descending=True, limit=PAGE, time_left=True
                ),
                lambda sql=cli_sql, p=params: raw.execute(sql, {**p, "limit": 50}).fetchall(),
                lambda sql=tui_sql, p=params: raw.execute(sql, {**p, "limit": PAGE + 1}).fetchall(),
            )
        )
    return out


def open_desk(tickets: int, reseed: bool):
    base, admin = server()
    name = f"tessera_bench_{tickets}"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and reseed:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name)
    if not exists:
        seed(url, tickets)
    db = open_database(url)
    started = time.perf_counter()
    before = migrate.status(db).current
    migrate.upgrade(db)
    if before != migrate.status(db).current:
        print(f"{tickets:,} tickets: migrated {before} -> head in {time.perf_counter() - started:.0f} s")
    return db, url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", default="10000,100000,1000000", help="desk sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--content-only", action="store_true", help="only the full-text queries")
    args = parser.parse_args()
    sizes = [int(n) for n in args.tickets.split(",")]
    table: dict[str, dict[int, tuple[float, ...]]] = {}
    load = lambda: os.getloadavg()[0]  # noqa: E731
    for n in sizes:
        db, url = open_desk(n, args.reseed)
        # Each statement planned for its values, as Tessera's searches are (fast_sql.planned_each_time).
        raw = psycopg.connect(pg.conninfo(url), autocommit=True, prepare_threshold=None)
        # ... and costed as Tessera's pages of a search are (fast_sql.SEARCH_RANDOM_PAGE_COST,
        # PAGE_PARALLEL_WORKERS): the same plans.
        raw.execute(f"SET random_page_cost = {SEARCH_RANDOM_PAGE_COST}")
        raw.execute(f"SET max_parallel_workers_per_gather = {PAGE_PARALLEL_WORKERS}")
        with db.session() as s:
            ctx = open_context(s, "agent7")
            print(
                f"\n{n:,} tickets (load {load():.1f}); as an agent who sees 3 of 5 queues; ms, {args.runs} runs"
            )
            visible = [r[0] for r in raw.execute("SELECT id FROM queues WHERE name = ANY(%s)", (QUEUES[:3],))]
            if not args.content_only:
                for label, ours, theirs in other_cases(ctx, raw, visible):
                    ours(), theirs()
                    a = [timed(lambda fn=ours: (fn(), s.expunge_all())) for _ in range(args.runs)]
                    b = [timed(theirs) for _ in range(args.runs)]
                    ma, mb = statistics.median(a), statistics.median(b)
                    print(f"  {label:<64} tessera {ma:7.1f}  hand SQL {mb:7.1f}  {ma / mb:4.1f}x")
            for label, cli, tui, hand_cli, hand_tui in content_cases(ctx, raw, visible):
                rows = (len(cli()), len(tui().rows), len(hand_cli()), len(hand_tui()))
                runs: list[tuple[float, float, float, float]] = []
                for _ in range(args.runs):  # interleaved within each run
                    runs.append(
                        (
                            timed(lambda fn=cli: (fn(), s.expunge_all())),
                            timed(hand_cli),
                            timed(lambda fn=tui: (fn(), s.expunge_all())),
                            timed(hand_tui),
                        )
                    )
                med = tuple(statistics.median(r[i] for r in runs) for i in range(4))
                table.setdefault(label, {})[n] = med
                shown = min(rows[3], PAGE)  # the hand SQL reads one more, as the TUI's page does
                print(f"  {label}  rows: search {rows[0]} (hand {rows[2]}), TUI {rows[1]} (hand {shown})")
                print(
                    f"    median: search {med[0]:.1f} (hand {med[1]:.1f}), TUI page {med[2]:.1f} (hand {med[3]:.1f})"
                )
                for i, name in enumerate(("search", "hand", "TUI", "TUI hand")):
                    print(f"    {name:<9} " + " ".join(f"{r[i]:.1f}" for r in runs))
            s.rollback()
        raw.close()
        db.dispose()
    print(
        f"\nfull text, medians in ms (load {load():.1f} at the end): search / its hand SQL | TUI page / its hand SQL"
    )
    print(f"{'query':<72}" + "".join(f"{n:>34,}" for n in sizes))
    for label, by_size in table.items():
        cells = "".join(
            f"{'{:.1f} / {:.1f} | {:.1f} / {:.1f}'.format(*by_size[n]):>34}" if n in by_size else f"{'-':>34}"
            for n in sizes
        )
        print(f"{label:<72}{cells}")


def other_cases(ctx, raw, visible):
    q1 = raw.execute("SELECT id FROM queues WHERE name = 'Queue 1'").fetchone()[0]
    agent7 = ctx.actor.id
    return [
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
    ]


if __name__ == "__main__":
    main()

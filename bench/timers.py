"""Timers at scale: a sweep over 1,000,000 tickets with 10,000 due in the next hour.

Run: .venv/bin/python bench/timers.py [--tickets 1000000] [--due 10000] [--runs 21] [--rounds 5]
Uses the test PostgreSQL (embedded, or $TESSERA_TEST_DATABASE_URL) with a fresh migrated database
of its own (dropped at the end; --keep keeps it). The desk's clock is injected (`clock.set_clock`):
T0 is the start of the run, to the minute.

The tickets are made in SQL (generate_series, one INSERT; ~1-2 min), not through the ORM: `--due`
open tickets with Due spread over the hour after T0, 30% of the rest open with Due two days on, the
others resolved without a Due (as service levels leave them). The shipped timer `[Timer] On Overdue
Escalate Priority` (OnOverdue, SetPriority +10) is enabled, with RT's default scrips.

Timed, interleaved, every run printed with the median and the load (`uptime`):
* nothing due: `sweep(db)` at T0 (as `tessera worker` runs it: a session, the enabled timers read,
  the candidates' indexed query per timer) against the bare indexed query it rests on (psycopg,
  one statement: the tickets with Due <= T0 not fired yet);
* 1,000 due: each round moves the clock 1/10 of the hour on (`--batch` tickets fall due) and times
  the sweep that fires on them (each firing a unit of work: the lock, the firing's record, the Timer
  transaction, the priority change and the scrips on both) against the same change made through
  the CLI's path in-process (`tessera ticket set ID priority=+10`: a session and core's
  `set_fields` per ticket) on 1,000 other open tickets, in alternating order.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from tessera.core import clock, queues, tickets
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.db import open_database
from tests.support import pg

ESCALATE = "[Timer] On Overdue Escalate Priority"

GENERATE = """
INSERT INTO tickets (queue_id, subject, status, priority, due, created, updated, creator_id)
SELECT %(queue)s, 'Bench ticket ' || g,
       CASE WHEN g <= %(due)s OR g %% 10 < 3 THEN 'open' ELSE 'resolved' END,
       0,
       CASE WHEN g <= %(due)s THEN %(t0)s::timestamptz + (g * 3600.0 / %(due)s) * interval '1 second'
            WHEN g %% 10 < 3 THEN %(t0)s::timestamptz + interval '2 days' + (g %% 1440) * interval '1 minute'
       END,
       %(t0)s::timestamptz - interval '30 days', %(t0)s::timestamptz - interval '30 days', %(root)s
  FROM generate_series(1, %(n)s) g
"""
BARE = """
SELECT t.id FROM tickets t
 WHERE t.due IS NOT NULL AND t.due <= %(now)s AND t.merged_into_id IS NULL
   AND NOT EXISTS (SELECT 1 FROM timer_firings f WHERE f.scrip_id = %(scrip)s AND f.ticket_id = t.id
                      AND f.item = 0 AND f.deadline = t.due)
 ORDER BY t.due LIMIT 500
"""


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def show(label: str, runs: list[float], unit: str = "ms") -> None:
    figures = " ".join(f"{r:.2f}" for r in runs)
    print(f"{label}: median {statistics.median(runs):.2f} {unit}; runs: {figures}")


def desk(server, n: int, due: int, t0: datetime):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from tessera.core.models import Queue, Scrip, User
    from tessera.scrips.editing import set_enabled

    url = pg.clone(server, pg.ensure_template(server), prefix="tessera_bench_timers")
    db = open_database(url)
    with db.session() as session:
        bootstrap(session, "root")
        root = open_context(session, "root")
        queues.create_queue(root, "General", correspond_address="help@desk.example")
        set_enabled(root, session.scalars(select(Scrip.id).where(Scrip.description == ESCALATE)).one(), True)
        queue = session.scalars(select(Queue.id).where(Queue.name == "General")).one()
        root_id = session.scalars(select(User.id).where(User.name == "root")).one()
        scrip_id = session.scalars(select(Scrip.id).where(Scrip.description == ESCALATE)).one()
        session.commit()
    started = time.perf_counter()
    with psycopg.connect(pg.conninfo(url), autocommit=True) as conn:
        conn.execute(GENERATE, {"queue": queue, "due": due, "t0": t0, "root": root_id, "n": n})
        conn.execute("ANALYZE tickets")
    print(
        f"generated {n:,} tickets ({due:,} due in the hour after T0) in {time.perf_counter() - started:.0f} s"
    )
    return url, db, scrip_id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000, help="open tickets due in the hour after T0")
    parser.add_argument("--runs", type=int, default=21, help="runs of the nothing-due sweep and its query")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of firings against the CLI path")
    parser.add_argument("--batch", type=int, default=1000, help="tickets falling due per round")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    from tessera.scrips.timers import sweep

    t0 = datetime.now(UTC).replace(second=0, microsecond=0)
    moment = [t0]
    clock.set_clock(lambda: moment[0])
    server = pg.server_url()
    url, db, scrip_id = desk(server, args.tickets, args.due, t0)
    print(f"load at the start: {load()}")
    try:
        with psycopg.connect(pg.conninfo(url), autocommit=True) as conn:
            sweep(db)  # warm: the session pool, the catalog, the lifecycles
            conn.execute(BARE, {"now": t0, "scrip": scrip_id}).fetchall()
            sweeps, bares = [], []
            for _ in range(args.runs):
                started = time.perf_counter()
                fired = sweep(db).fired
                sweeps.append((time.perf_counter() - started) * 1000)
                assert not fired, "nothing is due at T0"
                started = time.perf_counter()
                conn.execute(BARE, {"now": t0, "scrip": scrip_id}).fetchall()
                bares.append((time.perf_counter() - started) * 1000)
            print(f"\nnothing due, {args.tickets:,} tickets ({args.runs} runs, interleaved):")
            show("  sweep (tessera worker's round)", sweeps)
            show("  bare indexed query (psycopg)", bares)
            plan = conn.execute("EXPLAIN " + BARE, {"now": t0, "scrip": scrip_id}).fetchall()
            print("  plan of the bare query: " + " / ".join(row[0].strip() for row in plan[:4]))

            # The CLI path's tickets: open, due in two days (never due during the bench).
            others = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM tickets WHERE status = 'open' AND due > %(later)s ORDER BY id LIMIT %(n)s",
                    {"later": t0 + timedelta(days=1), "n": args.batch * (args.rounds + 1)},
                ).fetchall()
            ]
        step = timedelta(seconds=3600 * args.batch / args.due)
        fire_rates, cli_rates = [], []
        for r in range(-1, args.rounds):  # round 0 warms both paths up (the engine's first load)
            moment[0] = t0 + step * (r + 2)
            chunk = others[(r + 1) * args.batch : (r + 2) * args.batch]

            def firings() -> None:
                started = time.perf_counter()
                fired = sweep(db).fired
                elapsed = time.perf_counter() - started
                assert len(fired) == args.batch, f"fired {len(fired)}, not {args.batch}"
                fire_rates.append(len(fired) / elapsed)

            def cli_path(chunk: list[int] = chunk) -> None:
                started = time.perf_counter()
                for ticket_id in chunk:
                    with db.session() as session:  # as `tessera ticket set` (common.acting)
                        tickets.set_fields(open_context(session, "root"), ticket_id, {"priority+": "10"})
                cli_rates.append(len(chunk) / (time.perf_counter() - started))

            for run in (firings, cli_path) if r % 2 == 0 else (cli_path, firings):
                run()
            if r < 0:
                print(
                    f"  warm-up: timer firings {fire_rates[-1]:.0f}/s, CLI path {cli_rates[-1]:.0f}/s (not counted)"
                )
                del fire_rates[:], cli_rates[:]
                continue
            print(
                f"  round {r + 1}: timer firings {fire_rates[-1]:.0f}/s, CLI path {cli_rates[-1]:.0f}/s "
                f"({fire_rates[-1] / cli_rates[-1]:.0%})"
            )
        print(f"\n{args.batch:,} due per round ({args.rounds} rounds, alternating order):")
        show("  timer firings", fire_rates, "/s")
        show("  the same change through the CLI path in-process", cli_rates, "/s")
        ratios = [f / c for f, c in zip(fire_rates, cli_rates, strict=True)]
        print(
            f"  ratio: median {statistics.median(ratios):.0%}; rounds: {' '.join(f'{x:.0%}' for x in ratios)}"
        )
        print(f"load at the end: {load()}")
    finally:
        clock.set_clock(None)
        db.dispose()
        if not args.keep:
            pg.drop(url)


if __name__ == "__main__":
    main()

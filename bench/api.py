"""The HTTP API against core in-process: ticket creates (default scrips on) and GET /tickets/{id},
with 1, 8 and 32 concurrent clients, interleaved rounds, medians and every round's figure.

Run: .venv/bin/python bench/api.py [--rounds 5] [--creates 240] [--reads 800] [--workers 2]
Uses the test PostgreSQL (embedded, or $TESSERA_TEST_DATABASE_URL) with a fresh migrated database,
and a real `tessera api` process on loopback (uvicorn, --workers N). The baseline does the same
operations through core in this process, with the same number of threads, each its own session.
Targets (issue "HTTP API"): creates over HTTP at 8 clients >= 50% of the in-process rate; GET p50
<= 5 ms. The load generator shares the machine's two cores with the server and PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median, quantiles

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from tessera.core import queues, tickets, tokens
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.db import Database, open_database
from tessera.core.schemas import MessageIn, TicketCreate
from tests.support import pg
from tests.support.net import free_port

CONCURRENCY = (1, 8, 32)
BODY = {"queue": "General", "subject": "disk full on db1", "requestors": ["ops@example.com"], "body": "Alert"}


def run_threads(count: int, total: int, work: Callable[[int, int], float]) -> tuple[float, list[float]]:
    """`total` calls of work(thread, i) spread over `count` threads: (calls per second, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    per = [total // count + (1 if t < total % count else 0) for t in range(count)]
    barrier = threading.Barrier(count + 1)

    def thread(t: int) -> None:
        mine = []
        barrier.wait()
        for i in range(per[t]):
            mine.append(work(t, i))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=thread, args=(t,)) for t in range(count)]
    for th in threads:
        th.start()
    barrier.wait()
    started = time.perf_counter()
    for th in threads:
        th.join()
    return total / (time.perf_counter() - started), latencies


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


class Http:
    def __init__(self, base: str, token: str, count: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        self.clients = [httpx.Client(base_url=base, headers=headers, timeout=60) for _ in range(count)]

    def create(self, t: int, i: int) -> float:
        def go() -> None:
            response = self.clients[t].post("/tickets", json=BODY)
            assert response.status_code == 201, response.text

        return timed(go)

    def read(self, ids: list[int]) -> Callable[[int, int], float]:
        def work(t: int, i: int) -> float:
            def go() -> None:
                response = self.clients[t].get(f"/tickets/{random.choice(ids)}")
                assert response.status_code == 200, response.text

            return timed(go)

        return work

    def close(self) -> None:
        for client in self.clients:
            client.close()


class Core:
    def __init__(self, db: Database, count: int) -> None:
        self.sessions = [db.session() for _ in range(count)]
        self.contexts = [open_context(s, "root") for s in self.sessions]

    def create(self, t: int, i: int) -> float:
        data = TicketCreate(
            queue="General",
            subject=BODY["subject"],
            requestors=BODY["requestors"],
            message=MessageIn(body=BODY["body"]),
        )
        return timed(lambda: tickets.create_ticket(self.contexts[t], data))

    def read(self, ids: list[int]) -> Callable[[int, int], float]:
        from tessera.core.serialize import ticket_json

        def work(t: int, i: int) -> float:
            ctx = self.contexts[t]

            def go() -> None:
                ticket_json(ctx, tickets.get_ticket(ctx, random.choice(ids)))
                ctx.session.rollback()

            return timed(go)

        return work

    def close(self) -> None:
        for session in self.sessions:
            session.close()


def ms(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] * 1000
    return quantiles(values, n=100)[q - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--creates", type=int, default=240)
    parser.add_argument("--reads", type=int, default=800)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    server = pg.server_url()
    url = pg.clone(server, pg.ensure_template(server), prefix="tessera_bench_api")
    db = open_database(url)
    # the baseline's 32 threads each hold a session: a pool as large (the API's holds 5 + 10)
    from sqlalchemy.orm import sessionmaker

    from tessera.core.db import make_engine

    db.engine = make_engine(url, pool_size=40)
    db.sessions = sessionmaker(db.engine, expire_on_commit=False)
    with db.session() as s:
        bootstrap(s, "root")
        root = open_context(s, "root")
        queues.create_queue(root, "General", correspond_address="help@desk.example")
        token = tokens.add_token(root, "root", label="bench").secret
    port = free_port()
    env = {**os.environ, "TESSERA_DATABASE_URL": url.render_as_string(hide_password=False)}
    exe = str(Path(sys.executable).parent / "tessera")
    proc = subprocess.Popen(
        [exe, "api", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the API did not start") from None
            time.sleep(0.1)
    load = os.getloadavg()[0]
    print(f"bench/api.py: {args.rounds} rounds, {args.creates} creates and {args.reads} reads per cell, "
          f"--workers {args.workers}; load average at start {load:.1f} on {os.cpu_count()} cores")  # fmt: skip
    results: dict[tuple[str, str, int], list[tuple[float, float, float]]] = {}
    try:
        for _ in range(args.rounds):
            for count in CONCURRENCY:
                order = [("http", Http(base, token, count)), ("core", Core(db, count))]
                random.shuffle(order)  # interleave subject and baseline, in a different order each round
                for name, runner in order:
                    rate, lat = run_threads(count, args.creates, runner.create)
                    results.setdefault((name, "create", count), []).append((rate, ms(lat, 50), ms(lat, 99)))
                with db.session() as s:
                    ids = [t.id for t in tickets_sample(s)]
                for name, runner in order:
                    rate, lat = run_threads(count, args.reads, runner.read(ids))
                    results.setdefault((name, "read", count), []).append((rate, ms(lat, 50), ms(lat, 99)))
                for _, runner in order:
                    runner.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        db.dispose()
        pg.drop(url)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    for op in ("create", "read"):
        for count in CONCURRENCY:
            http, core = results[("http", op, count)], results[("core", op, count)]
            ratios = [h[0] / c[0] for h, c in zip(http, core, strict=True)]
            print(
                f"{op:6} x{count:<2}  http {median(r for r, _, _ in http):7.1f}/s "
                f"p50 {median(p for _, p, _ in http):6.1f} ms p99 {median(p for _, _, p in http):6.1f} ms | "
                f"core {median(r for r, _, _ in core):7.1f}/s p50 {median(p for _, p, _ in core):6.1f} ms | "
                f"http/core median {median(ratios):.0%}  rounds: " + " ".join(f"{r:.0%}" for r in ratios)
            )


def tickets_sample(session: object) -> list:
    from sqlalchemy import select

    from tessera.core.models import Ticket

    return list(session.scalars(select(Ticket).order_by(Ticket.id.desc()).limit(200)))


if __name__ == "__main__":
    main()

"""SMTP down and the worker killed, in one run (issue 16, point 8): nothing is lost.

A real `tessera worker` sends N pending autoreplies to a real SMTP server on loopback. The server
goes away twice while a worker is sending; each time the worker sees its connection refused (and
keeps retrying, never giving a message up), is killed with SIGKILL during the outage, and a new
worker retries against the dead port until the server comes back. Between the outages more
workers are killed mid-stream. At the end every message has reached the server: 0 lost, at most
one duplicate per kill (a kill between the server's 250 and the worker's "sent").
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tessera.core.models import OutboxMessage
from tessera.mail.delivery import pending_count
from tests.support.cli import Child, start
from tests.support.mail import autoreply_desk
from tests.support.net import free_port
from tests.support.smtp import SmtpServer, smtp_env
from tests.support.wait import wait_until

pytestmark = [pytest.mark.fault, pytest.mark.slow]

MESSAGES = 300
# What each worker's life looks like; one worker per step, each killed with SIGKILL at its end.
UP, GOES_DOWN, COMES_UP = "up", "goes down", "comes up"
SCHEDULE = [UP, GOES_DOWN, COMES_UP, UP, GOES_DOWN, COMES_UP, UP]
KILLS = len(SCHEDULE)
OUTAGES = SCHEDULE.count(GOES_DOWN)
REFUSED_PER_WORKER = 3  # connection attempts each worker makes against the dead port before its kill


class SlowSink(SmtpServer):
    """An SMTP server that takes a few milliseconds to accept a message, as a real one does."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.005)
        return await super().handle_DATA(server, session, envelope)


def attempts(database) -> int:
    """Every attempt any worker made so far (a claim counts one, whatever came of it)."""
    with database.session() as session:
        return int(session.scalar(text("SELECT coalesce(sum(attempts), 0) FROM outbox")) or 0)


def test_smtp_outages_and_worker_kills_in_one_run_lose_nothing(database, cli_env, tmp_path: Path) -> None:
    ids = autoreply_desk(database, MESSAGES, "outage")
    assert len(ids) == MESSAGES
    port = free_port()
    server = SlowSink(port).start()
    # An outage of hours compressed into seconds: retries a few per second, and no give-up (the
    # default, 20 attempts with backoff from 60 s, spans about a day; here it would be a second).
    env = {
        **cli_env,
        **smtp_env(port),
        "TESSERA_SMTP_RETRY_BASE": "0.05",
        "TESSERA_SMTP_RETRY_MAX": "0.2",
        "TESSERA_SMTP_MAX_ATTEMPTS": "100000",
    }
    rng = random.Random(1616)
    down_seconds = 0.0
    down_since = 0.0
    refused = 0  # attempts made while the server was down

    def start_worker(step: int) -> Child:
        return start(["worker", "--poll", "0.05"], env)  # in a session of its own

    def alive(worker: Child, step: int) -> None:
        assert worker.poll() is None, worker.read("stderr")

    def sends(worker: Child, step: int, count: int) -> None:
        target = min(len(server.received) + count, MESSAGES)
        wait_until(
            lambda: len(server.received) >= target or worker.poll() is not None,
            timeout=120,
            interval=0.001,
            what=f"worker {step} to send {count} messages",
        )
        alive(worker, step)

    def retries_against_the_dead_port(worker: Child, step: int) -> None:
        nonlocal refused
        before, delivered = attempts(database), len(server.received)
        wait_until(
            lambda: attempts(database) >= before + REFUSED_PER_WORKER or worker.poll() is not None,
            timeout=60,
            what=f"worker {step} to try the dead SMTP server {REFUSED_PER_WORKER} times",
        )
        alive(worker, step)
        assert len(server.received) == delivered  # nothing got through a stopped server
        refused += attempts(database) - before

    try:
        for step, kind in enumerate(SCHEDULE):
            worker = start_worker(step)
            if kind == COMES_UP:  # still down: it retries, then the server is back and it sends
                retries_against_the_dead_port(worker, step)
                server.start()
                down_seconds += time.monotonic() - down_since
            sends(worker, step, rng.randint(10, 30))
            if kind == GOES_DOWN:  # the server goes away under a sending worker, which retries
                server.stop()
                down_since = time.monotonic()
                retries_against_the_dead_port(worker, step)
            else:
                # The count moves as the server accepts a message, just before its 250: the kill
                # falls at a random point of the next message's cycle instead, as a real kill would.
                time.sleep(rng.uniform(0, 0.02))
            alive(worker, step)
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(30)
        assert server.controller is not None  # the schedule ends with the server up
        # A last worker (the same program, not killed) sends the rest, including what the last kill
        # left in flight once that worker's backend has ended.
        last = start_worker(KILLS)
        try:
            wait_until(lambda: pending_count(database) == 0, timeout=180, what="the outbox to drain")
        finally:
            last.terminate()
            last.wait(30)
        received = Counter(r.message["Message-ID"] for r in server.received)
        lost = set(ids) - set(received)
        duplicates = sum(n - 1 for n in received.values())
        with database.session() as session:
            statuses = Counter(session.scalars(select(OutboxMessage.status)))
        print(
            f"\nfault: SMTP down x{OUTAGES} ({down_seconds:.1f} s in all, {refused} attempts refused) and "
            f"worker kill -9 x{KILLS}: {MESSAGES} mails, {len(received)} delivered, {len(lost)} lost, "
            f"{duplicates} duplicates ({duplicates / KILLS:.1f} per kill), none given up"
        )
        assert not lost
        assert statuses == {"sent": MESSAGES}
        assert duplicates <= KILLS
        assert set(received) <= set(ids)
        assert refused >= OUTAGES * 2 * REFUSED_PER_WORKER
    finally:
        server.stop()

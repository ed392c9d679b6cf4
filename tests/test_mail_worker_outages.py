"""A running `tessera worker` rides out its outages: the database stopped and started again, the
SMTP server away for a while. Each outage is one line when it starts and one when it ends (not a
line a retry), the worker keeps running, and every message arrives once.

The real program against a real SMTP server on loopback; the database outage on the fault suite's
own server (tests/support/faults.py), never the shared one.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select, text

from tessera.core.context import open_context
from tessera.core.db import open_database
from tessera.core.models import Scrip
from tessera.mail.delivery import pending_count
from tests.support.cli import start
from tests.support.desks import Desk, make_desk
from tests.support.faults import FaultServer
from tests.support.net import free_port
from tests.support.smtp import SmtpServer, smtp_env
from tests.support.wait import wait_until

NEVER = ("Traceback", "Exception during reset", "SQLAlchemy", "sqlalche.me")


def _autoreplies_only(database) -> None:
    with database.session() as session:
        make_desk(session)
        for scrip in session.scalars(select(Scrip)):
            scrip.enabled = scrip.action == "AutoReply"
        session.commit()


def _ticket(database, subject: str) -> None:
    """A ticket, and so one autoreply in the outbox."""
    with database.session() as session:
        desk = Desk(session=session, root=open_context(session, "root"))
        desk.ticket(subject=subject, requestors=["carla@customer.example"])


def _attempts(database) -> int:
    with database.session() as session:
        return int(session.scalar(text("SELECT coalesce(sum(attempts), 0) FROM outbox")) or 0)


@pytest.mark.fault
def test_worker_keeps_running_across_a_database_stop_and_start(fault_server: FaultServer, cli_env) -> None:
    url = fault_server.fresh_database()
    database = open_database(url)
    server = SmtpServer(free_port()).start()
    env = {**cli_env, **smtp_env(server.port)}
    env["TESSERA_DATABASE_URL"] = url.render_as_string(hide_password=False)
    worker = None
    try:
        _autoreplies_only(database)
        _ticket(database, "before the stop")
        worker = start(["worker", "--poll", "0.1", "--timers-every", "0"], env)
        wait_until(lambda: len(server.received) == 1, what="the first autoreply")
        database.dispose()

        fault_server.stop()  # `tessera db stop`: the worker's connections end, none can be made
        wait_until(lambda: "database error" in worker.read(), what="the worker to say the database is away")
        assert worker.poll() is None, worker.read("stderr")
        fault_server.restart()
        wait_until(lambda: "answers again" in worker.read(), what="the worker to see it back")

        database = open_database(url)
        _ticket(database, "after the start")
        wait_until(lambda: len(server.received) == 2, what="the autoreply written after the restart")
        assert worker.poll() is None, worker.read("stderr")
        out, err = worker.read(), worker.read("stderr")
        said = [line for line in out.splitlines() if "database" in line]
        assert len(said) == 2, out  # away, then back: one line each, not one a try
        assert said[0].startswith("database error: ") and "tries again" in said[0], out
        assert said[1] == "the database answers again; delivering", out
        assert err.count("mail filer:") <= 2, err  # the filer too: gone once, back once
        assert not any(word in out + err for word in NEVER), out + err
        subjects = Counter(str(r.message["Subject"]) for r in server.received)
        assert sorted(subjects.values()) == [1, 1], subjects
        assert pending_count(database) == 0
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        server.stop()
        database.dispose()


def test_worker_says_once_that_smtp_is_down_and_once_that_it_answers_again(database, cli_env) -> None:
    _autoreplies_only(database)
    port = free_port()
    server = SmtpServer(port).start()
    env = {
        **cli_env,
        **smtp_env(port),
        "TESSERA_SMTP_RETRY_BASE": "0.05",
        "TESSERA_SMTP_RETRY_MAX": "0.1",
        "TESSERA_SMTP_MAX_ATTEMPTS": "100000",
    }
    worker = start(["worker", "--poll", "0.05", "--timers-every", "0"], env)
    try:
        _ticket(database, "while up")
        wait_until(lambda: len(server.received) == 1, what="the first autoreply")
        server.stop()
        for i in range(3):
            _ticket(database, f"while down {i}")
        before = _attempts(database)
        wait_until(lambda: _attempts(database) >= before + 5, what="five attempts at the stopped server")
        assert worker.poll() is None, worker.read("stderr")
        server.start()
        wait_until(lambda: pending_count(database) == 0, what="the outbox to drain")
        wait_until(lambda: "answers again" in worker.read(), what="the worker to say SMTP is back")
        out = worker.read()
        down = [line for line in out.splitlines() if "unavailable" in line]
        assert len(down) == 1, out  # one line for the outage, however many tries it took
        assert down[0].startswith(f"SMTP 127.0.0.1:{port} unavailable: ConnectionRefusedError: "), down[0]
        assert "waits in the outbox" in down[0]
        assert out.count(f"SMTP 127.0.0.1:{port} answers again") == 1, out
        assert not any(line.startswith("sent 0, failed 0") for line in out.splitlines()), out
        received = Counter(str(r.message["Subject"]) for r in server.received)
        assert len(received) == 4 and set(received.values()) == {1}, received
    finally:
        worker.terminate()
        worker.wait(30)
        server.stop()

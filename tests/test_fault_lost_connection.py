"""A connection lost in the middle of a command: always the one-line database error (exit 3), never
an internal error or a word of SQLAlchemy, and it says whether the change was made, checked.

Lost before the COMMIT (a backend terminated while the command waits on a ticket's lock, a
postmaster killed): nothing was changed, and the ticket shows it. Lost at the COMMIT (a proxy
hands the COMMIT over and cuts the answer, or drops it): the command looks the change up after
reconnecting and says which, and the database agrees."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from tessera.core import grants, queues, users
from tessera.core.bootstrap import bootstrap
from tessera.core.context import open_context
from tessera.core.schemas import MessageIn, TicketCreate
from tessera.core.tickets import create_ticket
from tests.support import pg
from tests.support.cli import Child, Result, assert_one_line_error, run, start
from tests.support.faults import FaultServer, token
from tests.support.pgproxy import CommitCutter
from tests.support.wait import wait_until

pytestmark = pytest.mark.fault

# What a lock-waiting command may be: each changes ticket 1 and must wait for its row lock.
LOCKING_COMMANDS = {
    "status": ["ticket", "set", "{id}", "status=open"],
    "priority": ["ticket", "set", "{id}", "priority=9"],
    "reply": ["ticket", "reply", "{id}", "--body", "hello"],
    "comment": ["ticket", "comment", "{id}", "--body", "internal"],
    "take": ["ticket", "take", "{id}"],
}
NEVER = ("internal error", "SQLAlchemy", "sqlalche.me", "OperationalError", "Traceback", "psycopg")


def assert_database_error(result: Result, *fragments: str) -> str:
    """The contract for a database failure: exit 3, one line, no library in it."""
    assert_one_line_error(result, "database error", *fragments)
    assert result.code == 3, result
    for word in NEVER:
        assert word not in result.err, f"{word!r} in {result.err!r}"
    return result.err.strip()


def _desk(database) -> int:
    with database.session() as s:
        bootstrap(s, "root")
        root = open_context(s, "root")
        queues.create_queue(root, "General")
        users.add_user(root, "alice", email="alice@desk.example", privileged=True)
        for right in ("SeeQueue", "ShowTicket", "ModifyTicket", "ReplyToTicket", "CommentOnTicket"):
            grants.grant(root, right, "user:alice", "General")
        for right in ("OwnTicket", "TakeTicket", "CreateTicket"):
            grants.grant(root, right, "user:alice", "General")
        grants.grant(root, "CreateTicket", "role:Everyone", "General")  # mail from anyone
        ticket = create_ticket(
            root, TicketCreate(queue="General", subject="hold me", message=MessageIn(body="first"))
        )
        return ticket.id


def _history(conninfo: str, ticket_id: int) -> tuple[int, tuple]:
    with psycopg.connect(conninfo) as conn:
        count = conn.execute("SELECT count(*) FROM transactions WHERE ticket_id = %s", [ticket_id]).fetchone()
        row = conn.execute(
            "SELECT status, priority, owner_id, version FROM tickets WHERE id = %s", (ticket_id,)
        ).fetchone()
    return count[0], row


def _waiting_backend(admin: psycopg.Connection, database: str, proc: Child) -> int:
    def waiting() -> int | None:
        if proc.poll() is not None:
            raise AssertionError(f"the command finished without waiting: {proc.read('stderr')}")
        row = admin.execute(
            "SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE NOT l.granted AND a.datname = %s LIMIT 1",
            (database,),
        ).fetchone()
        return row[0] if row else None

    return wait_until(waiting, timeout=60, interval=0.005, what="the command to wait on the lock")


def _start(args: list[str], env: dict[str, str]) -> Child:
    return start(args, env)


def _finish(proc: Child, timeout: float = 60) -> Result:
    code = proc.wait(timeout)
    return Result(code, proc.read("stdout"), proc.read("stderr"))


@pytest.mark.parametrize("command", sorted(LOCKING_COMMANDS))
def test_a_command_whose_backend_is_terminated_while_it_waits_on_a_lock_says_nothing_was_changed(
    database, cli_env, command: str
) -> None:
    ticket_id = _desk(database)
    conninfo = pg.conninfo(database.url)
    before = _history(conninfo, ticket_id)
    args = [a.replace("{id}", str(ticket_id)) for a in ["--user", "alice", *LOCKING_COMMANDS[command]]]
    with psycopg.connect(conninfo) as holder, psycopg.connect(conninfo, autocommit=True) as admin:
        holder.execute("SELECT 1 FROM tickets WHERE id = %s FOR UPDATE", (ticket_id,))
        proc = _start(args, cli_env)
        pid = _waiting_backend(admin, database.url.database, proc)
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        result = _finish(proc)
        holder.rollback()
    line = assert_database_error(result, "the server ended the connection", "nothing was changed")
    assert _history(conninfo, ticket_id) == before  # and so it is
    print(f"fault: {command} terminated while waiting on a lock -> exit 3: {line}")


@pytest.fixture
def cutter(database, cli_env):
    proxy = CommitCutter(database.url).start()
    env = dict(cli_env)
    env["TESSERA_DATABASE_URL"] = proxy.url().render_as_string(hide_password=False)
    yield proxy, env
    proxy.stop()


def _tickets_with_subject(conninfo: str, subject: str) -> int:
    with psycopg.connect(conninfo) as conn:
        return conn.execute("SELECT count(*) FROM tickets WHERE subject = %s", (subject,)).fetchone()[0]


@pytest.mark.parametrize("when", ["after", "before"])
def test_a_create_whose_commit_answer_is_lost_is_looked_up_and_reported_as_it_is(
    database, cutter, when: str
) -> None:
    _desk(database)
    proxy, env = cutter
    subject = token("lost-commit-")
    proxy.cut_at_commit(when)
    result = run(["--user", "alice", "ticket", "create", "--queue", "General", "--subject", subject], env)
    assert proxy.cuts == [when]
    made = _tickets_with_subject(pg.conninfo(database.url), subject)
    if when == "after":  # the server got the COMMIT: it committed, and the command says so
        line = assert_database_error(result, "the change WAS made (checked after reconnecting)")
        assert made == 1
    else:
        line = assert_database_error(result, "the change was NOT made (checked after reconnecting)")
        assert made == 0
    print(f"fault: create, COMMIT cut {when} the server had it -> {line}")


@pytest.mark.parametrize("when", ["after", "before"])
def test_a_status_change_whose_commit_answer_is_lost_is_looked_up_by_its_transaction(
    database, cutter, when: str
) -> None:
    ticket_id = _desk(database)
    proxy, env = cutter
    conninfo = pg.conninfo(database.url)
    before, _ = _history(conninfo, ticket_id)
    proxy.cut_at_commit(when)
    result = run(["--user", "alice", "ticket", "set", str(ticket_id), "status=open"], env)
    assert proxy.cuts == [when]
    after, (status, *_rest) = _history(conninfo, ticket_id)
    if when == "after":
        assert_database_error(result, "the change WAS made (checked after reconnecting)")
        assert (after - before, status) == (1, "open")
    else:
        assert_database_error(result, "the change was NOT made (checked after reconnecting)")
        assert (after - before, status) == (0, "new")


@pytest.mark.parametrize("when", ["after", "before"])
def test_a_change_that_inserts_nothing_is_looked_up_by_its_transaction_id(
    database, cutter, when: str
) -> None:
    """A queue's description: an UPDATE and no new row, so no witness row; pg_xact_status answers."""
    _desk(database)
    proxy, env = cutter
    text = token("described-")
    proxy.cut_at_commit(when)
    result = run(["queue", "set", "General", f"description={text}"], env)
    assert proxy.cuts == [when]
    with psycopg.connect(pg.conninfo(database.url)) as conn:
        now = conn.execute("SELECT description FROM queues WHERE name = 'General'").fetchone()[0]
    if when == "after":
        assert_database_error(result, "the change WAS made (checked after reconnecting)")
        assert now == text
    else:
        assert_database_error(result, "the change was NOT made (checked after reconnecting)")
        assert now != text


def test_the_mail_gateway_takes_a_message_whose_commit_answer_was_lost_but_that_committed(
    database, cutter
) -> None:
    """Exit 0 (taken), not 75: a retry by the MTA would only be recognised as a duplicate."""
    _desk(database)
    proxy, env = cutter
    subject = token("mail-lost-commit-")
    message = (
        f"From: carla@customer.example\nTo: help@desk.example\nSubject: {subject}\n"
        f"Message-ID: <{subject}@customer.example>\n\nhello\n"
    )
    proxy.cut_at_commit("after")
    result = run(["mailgate", "--queue", "General"], env, stdin=message)
    assert proxy.cuts == ["after"]
    assert result.code == 0, result
    assert "the change WAS made" in result.out
    assert _tickets_with_subject(pg.conninfo(database.url), subject) == 1
    proxy.cut_at_commit("before")
    again = run(["mailgate", "--queue", "General"], env, stdin=message.replace(subject, subject + "-2"))
    assert again.code == 75, again
    assert "the change was NOT made" in again.err


def test_mailgate_json_names_the_ticket_a_message_was_filed_to_when_the_commit_answer_was_lost(
    database, cutter
) -> None:
    """The answer is the decision that committed, as if the commit's answer had arrived: a new
    ticket, then a reply on it, each named (not "filed" to no ticket)."""
    _desk(database)
    proxy, env = cutter
    subject = token("mail-lost-json-")
    message = (
        f"From: carla@customer.example\nTo: help@desk.example\nSubject: {subject}\n"
        f"Message-ID: <{subject}@customer.example>\n\nhello\n"
    )
    proxy.cut_at_commit("after")
    result = run(["mailgate", "--queue", "General", "--json"], env, stdin=message)
    assert proxy.cuts == ["after"] and result.code == 0, result
    with psycopg.connect(pg.conninfo(database.url)) as conn:
        (made,) = conn.execute("SELECT id FROM tickets WHERE subject = %s", (subject,)).fetchone()
    answer = json.loads(result.out)
    assert (answer["action"], answer["ticket"]) == ("create", made)
    assert "the change WAS made" in answer["reason"]
    with database.session() as s:
        grants.grant(open_context(s, "root"), "ReplyToTicket", "role:Requestor", "General")
    reply = message.replace(f"Subject: {subject}", f"Subject: Re: {subject}").replace(
        f"Message-ID: <{subject}@", f"In-Reply-To: <{subject}@customer.example>\nMessage-ID: <{subject}-2@"
    )
    proxy.cut_at_commit("after")
    again = run(["mailgate", "--queue", "General", "--json"], env, stdin=reply)
    assert proxy.cuts == ["after", "after"] and again.code == 0, again
    assert (json.loads(again.out)["action"], json.loads(again.out)["ticket"]) == ("correspond", made)


@pytest.mark.slow
@pytest.mark.parametrize("postmaster_only", [True, False], ids=["postmaster", "every-process"])
def test_kill_9_of_postgresql_while_a_command_waits_on_a_lock_says_nothing_was_changed(
    fault_server: FaultServer, postmaster_only: bool
) -> None:
    url = fault_server.fresh_database()
    from tessera.core.db import open_database

    db = open_database(url)
    try:
        ticket_id = _desk(db)
    finally:
        db.dispose()
    conninfo = pg.conninfo(url)
    before = _history(conninfo, ticket_id)
    env = fault_server.env(TESSERA_DATABASE_URL=url.render_as_string(hide_password=False))
    holder = psycopg.connect(conninfo)
    try:
        holder.execute("SELECT 1 FROM tickets WHERE id = %s FOR UPDATE", (ticket_id,))
        proc = _start(["--user", "alice", "ticket", "set", str(ticket_id), "status=open"], env)
        with fault_server.admin(url.database) as admin:
            _waiting_backend(admin, url.database, proc)
        started = time.monotonic()
        fault_server.kill9(postmaster_only=postmaster_only)
        result = _finish(proc)
        took = time.monotonic() - started
    finally:
        holder.close()
        fault_server.restart()
    line = assert_database_error(result, "nothing was changed")
    assert _history(conninfo, ticket_id) == before
    what = "the postmaster" if postmaster_only else "every server process"
    print(f"fault: kill -9 of {what} under a lock wait -> exit 3 in {took:.1f} s: {line}")

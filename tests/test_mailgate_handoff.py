"""`tessera mailgate`'s hand-off to a warm filer, with the real program, the real `tessera worker`
and real PostgreSQL: filed by the worker with the same answer as in-process; a filer that dies
while the mailgate waits leaves the message to the mailgate, which files it once; no filer, the
mailgate files it itself and records nothing pending."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select

from tessera.core import fast_sql, grants
from tessera.core.models import InboundMail, Ticket
from tests.support.cli import Child, Result, run, start
from tests.support.desks import Desk
from tests.support.mail import mail
from tests.support.net import free_port
from tests.support.smtp import smtp_env
from tests.support.wait import wait_until

# `tessera mailgate`, saying on stderr at exit whether SQLAlchemy was imported (the quick path's
# process does not import it when the worker files the message).
PROBED = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write(f'[sqlalchemy imported: {\"sqlalchemy\" in sys.modules}]'))\n"
    "from tessera.cli.main import run\n"
    "sys.argv = ['tessera', *sys.argv[1:]]\n"
    "run()\n"
)


@pytest.fixture
def open_desk(committed_desk: Desk) -> Desk:
    grants.grant(committed_desk.root, "CreateTicket", "role:Everyone", "General")
    grants.grant(committed_desk.root, "ReplyToTicket", "role:Requestor", "General")
    return committed_desk


def _dsn(env: dict[str, str]) -> str:
    return env["TESSERA_DATABASE_URL"].replace("+psycopg", "")


def _filer_alive(env: dict[str, str]) -> bool:
    with psycopg.connect(_dsn(env), autocommit=True) as conn:
        return fast_sql.filer_alive(conn)


@pytest.fixture
def worker(cli_env: dict[str, str]) -> Iterator[Child]:
    """`tessera worker` running (its outbox mail goes nowhere: a closed port), its filer listening."""
    env = {**cli_env, **smtp_env(free_port())}
    proc = start(["worker", "--poll", "0.5"], env)
    try:
        wait_until(lambda: _filer_alive(cli_env), timeout=60, what="the worker's filer to listen")
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _probed(args: list[str], env: dict[str, str], stdin: bytes) -> Result:
    done = subprocess.run(
        [sys.executable, "-c", PROBED, "mailgate", *args],
        env=env,
        input=stdin,
        capture_output=True,
        timeout=120,
    )
    return Result(done.returncode, done.stdout.decode(), done.stderr.decode())


def _rows(desk: Desk) -> list[tuple[int, str, int | None]]:
    desk.session.rollback()  # see what the other processes committed
    rows = desk.session.execute(
        select(InboundMail.id, InboundMail.action, InboundMail.ticket_id).order_by(InboundMail.id)
    ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _tickets(desk: Desk) -> int:
    desk.session.rollback()
    return int(desk.session.scalar(select(func.count()).select_from(Ticket)) or 0)


def test_with_a_worker_running_the_worker_files_it_and_mailgate_answers_as_in_process(
    open_desk: Desk, cli_env: dict[str, str], worker: Child
) -> None:
    created = _probed(["--queue", "General", "--json"], cli_env, mail(subject="Printer on fire"))
    assert created.code == 0, created
    assert "[sqlalchemy imported: False]" in created.err  # filed by the worker, not in this process
    answer = json.loads(created.out)
    assert answer == {"action": "create", "ticket": answer["ticket"], "reason": "new ticket in General"}
    tag = f"[TKT-{answer['ticket']:04d}]"
    reply = _probed(["--queue", "General"], cli_env, mail(subject=f"Re: {tag} Printer on fire"))
    assert reply.code == 0 and "[sqlalchemy imported: False]" in reply.err, reply
    shown = f"TKT-{answer['ticket']:04d}"
    assert reply.out == f"correspond {shown}: correspond on {shown} (subject tag {tag})\n"
    # A message that can never be accepted: 65 and the one-line reason, as in-process.
    refused = _probed(["--queue", "General", "--json"], cli_env, b"Subject: nobody sent this\n\nbody\n")
    assert refused.code == 65, refused
    assert json.loads(refused.out)["action"] == "dropped"
    assert "tessera: mailgate: quarantined: no originator" in refused.err
    assert [action for _, action, _ in _rows(open_desk)] == ["create", "correspond", "dropped"]


def test_a_retried_delivery_through_the_worker_opens_no_second_ticket(
    open_desk: Desk, cli_env: dict[str, str], worker: Child
) -> None:
    raw = mail(subject="Only once").decode()
    first = run(["mailgate", "--queue", "General", "--json"], cli_env, stdin=raw)
    again = run(["mailgate", "--queue", "General", "--json"], cli_env, stdin=raw)
    assert first.code == 0 and again.code == 0, (first, again)
    assert json.loads(again.out)["action"] == "dropped" and "duplicate delivery" in again.out
    assert _tickets(open_desk) == 1


def test_when_the_filer_dies_while_mailgate_waits_mailgate_files_the_message_itself_once(
    open_desk: Desk, cli_env: dict[str, str], tmp_path: Path
) -> None:
    # A filer that is alive (it holds the filers' lock) but never answers, killed mid-wait.
    filer = psycopg.connect(_dsn(cli_env), autocommit=True)
    filer.execute(fast_sql.FILER_HOLD)
    raw = mail(subject="Filer killed")
    (tmp_path / "message").write_bytes(raw)
    with (tmp_path / "message").open("rb") as stdin:
        gate = subprocess.Popen(
            [sys.executable, "-m", "tessera", "mailgate", "--queue", "General", "--json"],
            env=cli_env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    [(pending, action, _)] = wait_until(lambda: _rows(open_desk), timeout=60, what="the pending row")
    assert action == fast_sql.PENDING
    with psycopg.connect(_dsn(cli_env), autocommit=True) as admin:  # the filer's process killed
        admin.execute("SELECT pg_terminate_backend(%s)", [filer.info.backend_pid])
    out, err = gate.communicate(timeout=120)
    assert gate.returncode == 0, err
    assert json.loads(out)["action"] == "create"
    assert _rows(open_desk) == [(pending, "create", json.loads(out)["ticket"])]  # the same row, filed
    again = run(["mailgate", "--queue", "General"], cli_env, stdin=raw.decode())  # the MTA retrying
    assert again.code == 0 and "duplicate delivery" in again.out, again
    assert _tickets(open_desk) == 1


def test_with_no_filer_mailgate_files_in_its_own_process_and_records_nothing_pending(
    open_desk: Desk, cli_env: dict[str, str]
) -> None:
    filed = _probed(["--queue", "General", "--json"], cli_env, mail(subject="No worker"))
    assert filed.code == 0, filed
    assert "[sqlalchemy imported: True]" in filed.err
    assert json.loads(filed.out)["action"] == "create"
    assert [action for _, action, _ in _rows(open_desk)] == ["create"]


def test_a_worker_with_other_settings_leaves_the_message_to_mailgate(
    open_desk: Desk, cli_env: dict[str, str], worker: Child
) -> None:
    env = {**cli_env, "TESSERA_MAIL_CC_WATCHERS": "0"}  # not the worker's: it must not decide
    filed = _probed(
        ["--queue", "General", "--json"], env, mail(subject="My settings", cc="boss@customer.example")
    )
    assert filed.code == 0, filed
    assert "[sqlalchemy imported: True]" in filed.err
    assert [action for _, action, _ in _rows(open_desk)] == ["create"]


def test_an_unknown_queue_is_a_temporary_failure_and_leaves_no_pending_row(
    open_desk: Desk, cli_env: dict[str, str], worker: Child
) -> None:
    result = run(["mailgate", "--queue", "Nowhere"], cli_env, stdin=mail().decode())
    assert result.code == 75 and "temporary failure" in result.err and "Traceback" not in result.err, result
    assert _rows(open_desk) == []

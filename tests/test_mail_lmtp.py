"""`tessera lmtp` driven by a real client (smtplib.LMTP and by hand): recipients map to queues and
actions, one reply per accepted recipient (one message to a queue's two addresses is filed once),
and a temporary failure while the database is down."""

from __future__ import annotations

import smtplib
import socket
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from tessera.core import grants
from tessera.core.db import Database, make_engine
from tessera.core.models import InboundMail, Ticket, Transaction
from tessera.mail.gateway import Settings
from tessera.mail.lmtp import start
from tests.support.cli import tessera_cmd
from tests.support.desks import Desk
from tests.support.mail import mail
from tests.support.net import free_port
from tests.support.rights import AGENT_RIGHTS
from tests.support.wait import wait_until


@pytest.fixture
def server(database: Database, committed_desk: Desk) -> Iterator[int]:
    """`tessera lmtp`'s server on a free port, for a desk where anyone may open tickets."""
    desk = committed_desk
    grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
    desk.agent("alice", *AGENT_RIGHTS)
    grants.grant(desk.root, "CommentOnTicket", "user:alice", "General")
    desk.session.commit()
    port = free_port()
    controller = start(database, "127.0.0.1", port, Settings())
    try:
        yield port
    finally:
        controller.stop()


def test_lmtp_delivers_to_queues_by_address(database, server) -> None:
    with smtplib.LMTP("127.0.0.1", server) as client:
        refused = client.sendmail("carla@customer.example", ["help@desk.example"], mail())
        assert refused == {}
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("carla@customer.example", ["nobody@desk.example"], mail())
    with database.session() as session:
        row = session.scalars(select(InboundMail).order_by(InboundMail.id.desc())).first()
        assert row.action == "create" and row.ticket_id
        ticket_id = row.ticket_id
    note = mail(sender="alice@staff.example", subject=f"[TKT-{ticket_id:04d}] internal note")
    with smtplib.LMTP("127.0.0.1", server) as client:
        assert client.sendmail("alice@staff.example", ["help-comment@desk.example"], note) == {}
    with database.session() as session:
        last = session.scalars(
            select(Transaction).where(Transaction.ticket_id == ticket_id).order_by(Transaction.id.desc())
        ).first()
        assert last.type == "Comment"


def lmtp_session(port: int, rcpts: list[bytes], raw: bytes) -> tuple[list[bytes], list[bytes]]:
    """One LMTP transaction by hand: smtplib.LMTP reads a single reply after DATA, but LMTP
    gives one per accepted recipient (RFC 2033 4.2). (RCPT replies, DATA replies.)"""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        f = sock.makefile("rwb")

        def say(line: bytes) -> bytes:
            f.write(line + b"\r\n")
            f.flush()
            reply = f.readline()
            while reply[3:4] == b"-":
                reply = f.readline()
            return reply

        assert f.readline().startswith(b"220")
        assert say(b"LHLO client.example").startswith(b"250")
        assert say(b"MAIL FROM:<carla@customer.example>").startswith(b"250")
        rcpt_replies = [say(b"RCPT TO:<" + rcpt + b">") for rcpt in rcpts]
        assert say(b"DATA").startswith(b"354")
        f.write(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + b".\r\n")
        f.flush()
        accepted = sum(r.startswith(b"250") for r in rcpt_replies)
        data_replies = [f.readline() for _ in range(accepted)]
        assert say(b"QUIT").startswith(b"221")
    return rcpt_replies, data_replies


def test_lmtp_several_recipients_one_reply_each_and_filed_once(database, server) -> None:
    raw = mail(to="help@desk.example", Cc="help-comment@desk.example")
    rcpts = [b"help@desk.example", b"nobody@desk.example", b"HELP-Comment@Desk.Example"]
    rcpt_replies, data_replies = lmtp_session(server, rcpts, raw)
    assert [r[:3] for r in rcpt_replies] == [b"250", b"550", b"250"]
    assert data_replies[0].startswith(b"250") and b"<help@desk.example> create" in data_replies[0]
    assert data_replies[1].startswith(b"250") and b"duplicate" in data_replies[1]
    assert b"<HELP-Comment@Desk.Example>" in data_replies[1]
    with database.session() as session:
        rows = session.scalars(select(InboundMail).order_by(InboundMail.id)).all()
        assert [(r.requested_action, r.action) for r in rows] == [
            ("correspond", "create"),
            ("comment", "dropped"),
        ]
        assert rows[1].classification == "duplicate" and rows[1].ticket_id == rows[0].ticket_id
        assert len(session.scalars(select(Ticket.id)).all()) == 1
    with smtplib.LMTP("127.0.0.1", server) as client:  # a real client, an unknown recipient alone
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("carla@customer.example", ["nobody@desk.example"], raw)


def test_lmtp_tempfails_when_the_database_is_unreachable() -> None:
    url = make_url("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    engine = make_engine(url)
    down = Database(
        url=engine.url, engine=engine, sessions=sessionmaker(engine), embedded=False, location="down"
    )
    port = free_port()
    controller = start(down, "127.0.0.1", port, Settings())
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            f = sock.makefile("rwb")
            assert f.readline().startswith(b"220")
            for line in (b"LHLO client.example", b"MAIL FROM:<carla@customer.example>"):
                f.write(line + b"\r\n")
                f.flush()
                reply = f.readline()
                while reply[3:4] == b"-":
                    reply = f.readline()
                assert reply.startswith(b"250")
            f.write(b"RCPT TO:<help@desk.example>\r\n")
            f.flush()
            assert f.readline().startswith(b"451 4.3.0")
    finally:
        controller.stop()
        engine.dispose()


def test_lmtp_command_listens(cli_env) -> None:
    port = free_port()
    env = {**cli_env, "TESSERA_USER": "root"}
    proc = subprocess.Popen(
        [*tessera_cmd(), "lmtp", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def answers_noop() -> bool:
            assert proc.poll() is None, f"tessera lmtp exited: {proc.stderr.read() if proc.stderr else ''}"
            try:
                with smtplib.LMTP("127.0.0.1", port) as client:
                    return client.noop()[0] == 250
            except OSError:  # not listening yet
                return False

        wait_until(answers_noop, timeout=60, interval=0.1, what="tessera lmtp to answer on its port")
    finally:
        proc.terminate()
        proc.wait(timeout=10)

"""`tessera lmtp` driven by a real client (smtplib.LMTP): recipients map to queues and actions."""

from __future__ import annotations

import smtplib
import socket
import subprocess
import time

import pytest
from sqlalchemy import select

from tessera.core import grants
from tessera.core.models import InboundMail, Transaction
from tessera.mail.gateway import Settings
from tessera.mail.lmtp import start
from tests.helpers import tessera_cmd
from tests.test_mail_gateway import mail
from tests.test_scrips_support import engine_on, free_port, make_scrip_desk


@pytest.fixture
def server(database):  # type: ignore[no-untyped-def]
    with engine_on():
        with database.session() as session:
            desk = make_scrip_desk(session)
            grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
            desk.agent("alice")
            grants.grant(desk.root, "CommentOnTicket", "user:alice", "General")
            session.commit()
        port = free_port()
        controller = start(database, "127.0.0.1", port, Settings())
        try:
            yield port
        finally:
            controller.stop()


def test_lmtp_delivers_to_queues_by_address(database, server) -> None:  # type: ignore[no-untyped-def]
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


def test_lmtp_replies_once_per_recipient(database, server) -> None:  # type: ignore[no-untyped-def]
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        f = sock.makefile("rwb")

        def send(line: bytes) -> None:
            f.write(line + b"\r\n")
            f.flush()

        def reply() -> list[bytes]:
            lines = [f.readline()]
            while lines[-1][3:4] == b"-":
                lines.append(f.readline())
            return lines

        assert reply()[0].startswith(b"220")
        send(b"LHLO client.example")
        assert reply()[-1].startswith(b"250")
        send(b"MAIL FROM:<carla@customer.example>")
        assert reply()[0].startswith(b"250")
        for rcpt in (b"help@desk.example", b"help-comment@desk.example"):
            send(b"RCPT TO:<" + rcpt + b">")
            assert reply()[0].startswith(b"250")
        send(b"DATA")
        assert reply()[0].startswith(b"354")
        f.write(mail().replace(b"\n", b"\r\n") + b".\r\n")
        f.flush()
        first, second = f.readline(), f.readline()
        assert first.startswith(b"250") and b"help@desk.example" in first
        assert second.startswith(b"250") and b"help-comment@desk.example" in second
        send(b"QUIT")


def test_lmtp_command_listens(cli_env) -> None:  # type: ignore[no-untyped-def]
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
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with smtplib.LMTP("127.0.0.1", port) as client:
                    code, _ = client.noop()
                    assert code == 250
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(
                f"tessera lmtp did not listen: {proc.stderr.read() if proc.poll() is not None else ''}"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)

"""Delivery against a real SMTP server on loopback (aiosmtpd): content, recipients, headers,
threading, SMTP down then up, several workers, order; and the CLI end to end."""

from __future__ import annotations

import json
import threading
from email.utils import getaddresses

import pytest
from sqlalchemy import select

from tessera.core import tickets
from tessera.core.db import open_database
from tessera.core.models import OutboxMessage
from tessera.core.schemas import MessageIn
from tessera.mail.delivery import SmtpSettings, deliver_due
from tests.support.cli import run
from tests.support.net import free_port
from tests.support.rights import AGENT_RIGHTS
from tests.support.smtp import SmtpServer, smtp_env


@pytest.fixture
def smtp():
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


def settings_for(port: int) -> SmtpSettings:
    return SmtpSettings.from_env(smtp_env(port))


def test_content_recipients_headers_and_threading(database, committed_desk, smtp) -> None:
    agent = committed_desk.agent("alice", *AGENT_RIGHTS)
    ticket = committed_desk.ticket(subject="VPN is down", requestors=["customer@example.com"],
                                   cc=["cc@example.com"], admincc=["watcher@example.com"],
                                   body="Since 9am.")  # fmt: skip
    result = deliver_due(database, settings_for(smtp.port))
    assert result.sent == 3  # autoreply, AdminCc notification, Cc notification
    got = smtp.wait_for(3)
    auto = next(r for r in got if r.message["Auto-Submitted"] == "auto-replied")
    assert auto.rcpt_tos == ["customer@example.com"]
    assert auto.mail_from == "help@desk.example"
    assert auto.message["Subject"] == f"[{ticket.display_id}] AutoReply: VPN is down"
    assert getaddresses([auto.message["From"]]) == [("General help via Tessera", "help@desk.example")]
    assert auto.message["Reply-To"] == "help@desk.example"
    assert "Since 9am." in auto.message.get_content()
    create_mid = committed_desk.session.scalars(
        select(OutboxMessage.summary).where(OutboxMessage.ticket_id == ticket.id)
    ).first()
    assert create_mid is not None
    ticket_ref = f"<tessera-ticket-{ticket.id}@desk.example>"
    assert auto.message["References"].split()[0] == ticket_ref
    incoming_id = auto.message["In-Reply-To"]
    assert incoming_id and incoming_id in auto.message["References"]
    assert auto.message["Message-ID"].endswith("@desk.example>")
    admin = next(r for r in got if r.rcpt_tos == ["watcher@example.com"])
    assert admin.message["Bcc"] is None  # Bcc never travels in the header
    assert admin.message["Auto-Submitted"] == "auto-generated"

    # A reply threads under the reply's own message and the ticket.
    smtp.received.clear()
    txn = tickets.correspond(agent, ticket.id, MessageIn(body="Rebooted the concentrator."))
    reply_mid = txn.data["message_id"]
    assert deliver_due(database, settings_for(smtp.port)).sent == 2
    got = smtp.wait_for(2)
    public = next(r for r in got if "customer@example.com" in r.rcpt_tos)
    assert sorted(public.rcpt_tos) == ["cc@example.com", "customer@example.com"]
    assert public.message["To"] == "customer@example.com" and public.message["Cc"] == "cc@example.com"
    assert public.message["In-Reply-To"] == reply_mid
    assert public.message["References"].split() == [ticket_ref, reply_mid]
    assert public.message["Subject"] == f"[{ticket.display_id}] VPN is down"
    assert getaddresses([public.message["From"]]) == [("Alice via Tessera", "help@desk.example")]
    assert "Rebooted the concentrator." in public.message.get_content()
    assert all(r.message["Message-ID"] != auto.message["Message-ID"] for r in got)

    # A comment goes to AdminCcs from the comment address, never to the requestor.
    smtp.received.clear()
    tickets.comment(agent, ticket.id, MessageIn(body="Internal: vendor bug.", subject="Re: VPN is down"))
    assert deliver_due(database, settings_for(smtp.port)).sent == 1
    note = smtp.wait_for(1)[0]
    assert note.rcpt_tos == ["watcher@example.com"]
    assert note.mail_from == "help-comment@desk.example"
    assert note.message["Subject"] == f"[{ticket.display_id}] [Comment] VPN is down"
    assert "not sent to the Requestor" in note.message.get_content()


def test_smtp_down_then_up_loses_nothing(database, committed_desk) -> None:
    port = free_port()  # nothing listens here yet
    for i in range(3):
        committed_desk.ticket(subject=f"down {i}")
    first = deliver_due(database, settings_for(port))
    assert first.sent == 0 and first.retried == 1
    rows = committed_desk.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    committed_desk.session.expire_all()
    rows = committed_desk.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [r.status for r in rows] == ["pending"] * 3
    assert rows[0].attempts == 1 and rows[0].last_error
    server = SmtpServer(port).start()
    try:
        again = deliver_due(database, settings_for(port))
        assert again.sent == 3
        got = server.wait_for(3)
        assert sorted(r.message["Subject"].split("] ", 1)[1] for r in got) == [
            "AutoReply: down 0",
            "AutoReply: down 1",
            "AutoReply: down 2",
        ]
    finally:
        server.stop()
    committed_desk.session.expire_all()
    assert {r.status for r in committed_desk.session.scalars(select(OutboxMessage))} == {"sent"}


def test_backoff_keeps_a_failed_message_back(database, committed_desk) -> None:
    port = free_port()
    committed_desk.ticket()
    slow = SmtpSettings.from_env({**smtp_env(port), "TESSERA_SMTP_RETRY_BASE": "600"})
    assert deliver_due(database, slow).retried == 1
    server = SmtpServer(port).start()
    try:
        assert deliver_due(database, slow).sent == 0  # not due yet: the backoff holds it
    finally:
        server.stop()


def test_two_workers_never_send_twice_and_order_is_kept(database, committed_desk, smtp) -> None:
    for i in range(30):
        committed_desk.ticket(subject=f"bulk {i:02d}")
    total = len(committed_desk.outbox())
    assert total == 30
    dbs = [open_database(database.url), open_database(database.url)]
    results = []

    def work(db) -> None:
        results.append(deliver_due(db, settings_for(smtp.port)))

    threads = [threading.Thread(target=work, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for db in dbs:
        db.dispose()
    got = smtp.wait_for(total)
    ids = [r.message["Message-ID"] for r in got]
    assert len(ids) == total and len(set(ids)) == total
    assert sum(r.sent for r in results) == total
    # One worker alone sends in outbox order.
    smtp.received.clear()
    for i in range(5):
        committed_desk.ticket(subject=f"order {i}")
    deliver_due(database, settings_for(smtp.port))
    subjects = [r.message["Subject"].split("AutoReply: ")[1] for r in smtp.wait_for(5)]
    assert subjects == [f"order {i}" for i in range(5)]


def test_mail_only_if_the_change_committed(database, committed_desk, smtp) -> None:
    from tessera.core.errors import InvalidInput

    ticket = committed_desk.ticket()
    before = len(committed_desk.outbox())
    # Status would fire "On Resolve", but the unit fails on its second field: nothing is queued.
    with pytest.raises(InvalidInput):
        tickets.set_fields(committed_desk.root, ticket.id, {"status": "resolved", "due": "not a date"})
    assert len(committed_desk.outbox()) == before


def test_cli_status_change_mail_reaches_smtp(cli_env, smtp) -> None:
    env = {**cli_env, **smtp_env(smtp.port), "TESSERA_USER": "root"}
    assert run(["db", "upgrade"], env).code == 0
    users = run(["user", "list", "--json"], env)
    assert users.code == 0, users.err
    root = json.loads(users.out)[0]["name"]
    env["TESSERA_USER"] = root
    made = run(["queue", "create", "Support", "--correspond-address", "support@desk.example",
                "--comment-address", "support-comment@desk.example"], env)  # fmt: skip
    assert made.code == 0, made.err
    created = run(["ticket", "create", "--queue", "Support", "--subject", "Mail is slow",
                   "--requestor", "jane@example.com", "--body", "Very slow.", "--json"], env)  # fmt: skip
    assert created.code == 0, created.err
    tid = json.loads(created.out)["id"]

    preview = run(["ticket", "preview", str(tid), "status=resolved", "--json"], env)
    assert preview.code == 0, preview.err
    plan = json.loads(preview.out)
    assert any(s["fires"] and s["description"] == "On Resolve Notify Requestors" for s in plan["scrips"])
    assert plan["changes"][0]["field"] == "status" and plan["changes"][0]["new"] == "resolved"
    assert plan["messages"][0]["to"] == ["jane@example.com"]

    assert run(["ticket", "set", str(tid), "status=resolved"], env).code == 0
    sent = run(["worker", "--once", "--json"], env)
    assert sent.code == 0, sent.err
    assert json.loads(sent.out) == {"sent": 2, "failed": 0, "retried": 0, "pending": 0}
    got = smtp.wait_for(2)
    resolved = next(r for r in got if "Resolved:" in r.message["Subject"])
    assert resolved.rcpt_tos == ["jane@example.com"]
    assert resolved.message["Subject"] == f"[TKT-{tid:04d}] Resolved: Mail is slow"
    assert resolved.message["From"].endswith("<support@desk.example>")
    assert "has been resolved" in resolved.message.get_content()
    assert resolved.message["References"].startswith(f"<tessera-ticket-{tid}@desk.example>")

    shown = json.loads(run(["ticket", "show", str(tid), "--history", "--json"], env).out)
    status = next(h for h in shown["history"] if h["type"] == "Status")
    assert {"description": "On Resolve Notify Requestors", "outcome": "committed"}.items() <= next(
        s for s in status["scrips"] if s["description"] == "On Resolve Notify Requestors"
    ).items()
    log = run(["scrip", "log", "--json", "--ticket", str(tid)], env)
    assert log.code == 0 and any(r["outcome"] == "committed" for r in json.loads(log.out))


def test_non_ascii_subject_body_and_name_survive_smtp(database, committed_desk, smtp) -> None:
    agent = committed_desk.agent("jürgen", *AGENT_RIGHTS)
    ticket = committed_desk.ticket(
        subject="Drucker brennt – schnell!", body="Grüße, der Drucker qualmt.\n" + "x" * 1200
    )
    tickets.correspond(agent, ticket.id, MessageIn(body="Schon unterwegs. Ça va ✓"))
    assert deliver_due(database, settings_for(smtp.port)).sent == 2
    got = smtp.wait_for(2)
    auto = next(r for r in got if r.message["Auto-Submitted"] == "auto-replied")
    assert auto.message["Subject"] == f"[{ticket.display_id}] AutoReply: Drucker brennt – schnell!"
    assert "Grüße, der Drucker qualmt." in auto.message.get_content()
    assert "x" * 1200 in auto.message.get_content().replace("\r\n", "\n")
    reply = next(r for r in got if r is not auto)
    assert "Ça va ✓" in reply.message.get_content()
    assert getaddresses([reply.message["From"]]) == [("Jürgen via Tessera", "help@desk.example")]


def test_worker_loop_delivers_until_stopped(cli_env, smtp) -> None:
    from tests.support.cli import start

    env = {**cli_env, **smtp_env(smtp.port)}
    assert run(["db", "upgrade"], env).code == 0
    env["TESSERA_USER"] = json.loads(run(["user", "list", "--json"], env).out)[0]["name"]
    assert run(["queue", "create", "Desk", "--correspond-address", "desk@desk.example"], env).code == 0
    worker = start(["worker", "--poll", "0.2"], env)
    try:
        made = run(["ticket", "create", "--queue", "Desk", "--subject", "Loop",
                    "--requestor", "r@example.com", "--body", "hello"], env)  # fmt: skip
        assert made.code == 0, made.err
        got = smtp.wait_for(1, timeout=30)
        assert len(got) == 1 and got[0].rcpt_tos == ["r@example.com"]
    finally:
        worker.terminate()
        worker.wait(10)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_tls_and_login(database, committed_desk, tmp_path, mode: str) -> None:
    import ssl
    import subprocess

    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(cert), str(key))
    logins = []

    def authenticator(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"desk", b"s3cret")
        logins.append(ok)
        return AuthResult(success=ok)

    port = free_port()
    options: dict[str, object] = {"authenticator": authenticator, "auth_required": True}
    if mode == "starttls":
        options |= {"tls_context": server_ctx, "require_starttls": True}
    else:
        # aiosmtpd does not count implicit TLS as TLS for AUTH; the connection is encrypted all the same.
        options |= {"ssl_context": server_ctx, "auth_require_tls": False}
    server = SmtpServer(port).start(**options)
    try:
        committed_desk.ticket(subject="over TLS")
        env = {**smtp_env(port), "TESSERA_SMTP_TLS": mode, "TESSERA_SMTP_CA_FILE": str(cert),
               "TESSERA_SMTP_USER": "desk", "TESSERA_SMTP_PASSWORD": "wrong"}  # fmt: skip
        refused = deliver_due(database, SmtpSettings.from_env(env))
        assert refused.sent == 0 and (refused.retried + refused.failed) == 1
        committed_desk.session.expire_all()
        assert committed_desk.outbox()[0].last_error
        assert logins and not any(logins)
    finally:
        server.stop()
    assert server.received == []
    # Right password now: a fresh message goes out (an authentication refusal is permanent for the first).
    server = SmtpServer(port).start(**options)
    try:
        committed_desk.ticket(subject="over TLS again")
        env["TESSERA_SMTP_PASSWORD"] = "s3cret"
        sent = deliver_due(database, SmtpSettings.from_env(env))
        assert sent.sent >= 1
        assert any("over TLS again" in r.message["Subject"] for r in server.wait_for(1))
    finally:
        server.stop()

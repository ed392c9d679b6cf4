"""No message lost to a bad byte (issue 16, point 2).

PostgreSQL text cannot hold NUL (nor a lone surrogate, which UTF-8 cannot encode), and a column has
its length. A stranger controls every field of a message, so each one is tried with a NUL in it:
the gateway files the message (or refuses it for a reason retrying cannot change, 65 and kept raw),
never answers 75 (temporary: the MTA would retry until it gives up and the mail would never be
filed), and never stops on an error. One test per field in process, then every field through the
real `tessera mailgate` and through LMTP.
"""

from __future__ import annotations

import json
import smtplib

import pytest
from sqlalchemy import select

from tessera.core import grants
from tessera.core.models import Attachment, InboundMail, Ticket, Transaction, User
from tessera.mail.gateway import EX_DATAERR, EX_OK
from tessera.mail.lmtp import start
from tests.support.cli import run, run_bytes
from tests.support.desks import make_desk
from tests.support.mail import go
from tests.support.net import free_port

BOUNDARY = b"b0undary"


def message(
    *,
    sender: bytes = b"Carla Customer <carla@customer.example>",
    subject: bytes = b"Printer on fire",
    extra: bytes = b"",
    content_type: bytes = b"text/plain; charset=utf-8",
    body: bytes = b"It is on fire.\n",
) -> bytes:
    return (
        b"From: " + sender + b"\nTo: help@desk.example\nCc: Colleague <colleague@customer.example>\n"
        b"Subject: " + subject + b"\nMessage-ID: <m1@customer.example>\n" + extra +
        b"MIME-Version: 1.0\nContent-Type: " + content_type + b"\n\n" + body
    )  # fmt: skip


def multipart(part_headers: bytes, part_body: bytes = b"data\n") -> bytes:
    return message(
        content_type=b'multipart/mixed; boundary="' + BOUNDARY + b'"',
        body=b"--" + BOUNDARY + b"\nContent-Type: text/plain\n\nIt is on fire.\n--" + BOUNDARY + b"\n"
        + part_headers + b"\n\n" + part_body + b"--" + BOUNDARY + b"--\n",
    )  # fmt: skip


# Field -> (the message, the action the gateway takes). Every inbound field a stranger writes.
FIELDS: dict[str, tuple[bytes, str]] = {
    "display name": (message(sender=b"Carla\x00Evil <carla@customer.example>"), "create"),
    "display name, encoded word": (
        message(sender=b"=?utf-8?q?Carla=00Evil?= <carla@customer.example>"), "create"),
    "display name, invalid UTF-8": (message(sender=b"Carla \xed\xa0\x80 <carla@customer.example>"), "create"),
    "sender address": (message(sender=b"Carla <carla\x00@customer.example>"), "dropped"),
    "sender address, too long to be a user name": (
        message(sender=b"Carla <" + b"c" * 230 + b"@customer.example>"), "dropped"),
    "subject": (message(subject=b"Printer\x00 on fire"), "create"),
    "subject, encoded word": (message(subject=b"=?utf-8?b?UHJpbnRlcgBvbiBmaXJl?="), "create"),
    "subject, RFC 2047 in a legacy charset": (message(subject=b"=?utf-16le?b?UAAAAA==?="), "create"),
    "Message-ID": (message(extra=b"X-Dummy: 1\n").replace(b"<m1@customer.example>", b"<m\x001@c.example>"),
                   "create"),
    "In-Reply-To and References": (
        message(extra=b"In-Reply-To: <a\x00b@c.example>\nReferences: <x@y> <c\x00d@e.example>\n"), "create"),
    "To and Cc": (message(extra=b"Cc: Ev\x00il <ev\x00il@customer.example>, B\x00b <bob@customer.example>\n"),
                  "create"),
    "any other header": (message(extra=b"X-Note: a\x00b\nX-Bin: \xff\xfe\x00\n"), "create"),
    "Auto-Submitted (a robot: the reason quotes it)": (
        message(extra=b"Auto-Submitted: auto-replied\x00\n"), "dropped"),
    "Precedence (a robot: the reason quotes it)": (message(extra=b"Precedence: bulk\x00x\n"), "dropped"),
    "body, 8bit": (message(body=b"It is\x00 on fire.\n"), "create"),
    "body, base64": (message(extra=b"Content-Transfer-Encoding: base64\n", body=b"SXQgaXMAIG9uIGZpcmUu\n"),
                     "create"),
    "body, HTML only": (message(content_type=b"text/html; charset=utf-8", body=b"<p>It is\x00 on fire</p>\n"),
                        "create"),
    "body, UTF-16": (message(content_type=b"text/plain; charset=utf-16le",
                             body="It is on fire.".encode("utf-16-le")), "create"),
    "attachment filename": (multipart(b'Content-Type: application/pdf\nContent-Disposition: attachment; '
                                      b'filename="in\x00voice.pdf"'), "create"),
    "attachment filename, RFC 2231": (multipart(b"Content-Type: application/pdf\nContent-Disposition: "
                                                b"attachment; filename*=utf-8''in%00voice.pdf"), "create"),
    "attachment filename, encoded word": (multipart(b'Content-Type: application/pdf; '
                                                    b'name="=?utf-8?q?in=00voice.pdf?="'), "create"),
    "part Content-Type": (multipart(b"Content-Type: text/pl\x00ain"), "create"),
    "part Content-Type, over the column's length": (multipart(b"Content-Type: text/" + b"x" * 300), "create"),
    "part headers": (multipart(b"Content-Type: text/plain\nX-Part: a\x00b"), "create"),
    "part text": (multipart(b"Content-Type: text/plain", b"a\x00b\n"), "create"),
    "Content-Type parameter": (message(content_type=b'text/plain; charset="utf\x00-8"; x="\x00"'), "create"),
    "forwarded message": (
        multipart(b"Content-Type: message/rfc822", b"From: a\x00@b\nSubject: \x00\n\nx\x00\n"), "create"),
}  # fmt: skip


@pytest.fixture
def open_desk(database):
    with database.session() as session:
        desk = make_desk(session)
        grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
        yield desk


@pytest.mark.parametrize("field", list(FIELDS))
def test_a_nul_or_unstorable_value_in_each_field_is_filed_not_retried(open_desk, field: str) -> None:
    raw, expected = FIELDS[field]
    outcome = go(open_desk, raw)
    assert outcome.action == expected, (field, outcome.reason)
    assert outcome.exit_code in (EX_OK, EX_DATAERR), field
    session = open_desk.session
    row = session.get(InboundMail, outcome.inbound_id)
    assert row is not None and row.raw == raw  # the bytes as received are kept, whatever happened
    if expected == "create":
        stored = session.scalars(
            select(Attachment.content).join(Transaction, Transaction.id == Attachment.transaction_id)
            .where(Transaction.ticket_id == outcome.ticket)
        ).all()  # fmt: skip
        assert any("It is" in (content or "") for content in stored), (field, stored)


def test_the_cleaned_values_keep_what_was_around_the_bad_byte(open_desk) -> None:
    session = open_desk.session
    go(open_desk, FIELDS["display name"][0])
    carla = session.scalars(select(User).where(User.email == "carla@customer.example")).one()
    assert carla.real_name == "Carla\ufffdEvil"
    outcome = go(open_desk, FIELDS["subject"][0].replace(b"<m1@", b"<m2@"))
    assert session.get(Ticket, outcome.ticket).subject == "Printer\ufffd on fire"
    outcome = go(open_desk, FIELDS["attachment filename"][0].replace(b"<m1@", b"<m3@"))
    names = session.scalars(select(Attachment.filename).where(Attachment.filename.is_not(None))).all()
    assert "invoice.pdf" in names
    outcome = go(open_desk, FIELDS["body, 8bit"][0].replace(b"<m1@", b"<m4@"))
    assert outcome.action == "create"


def test_every_field_through_the_real_mailgate_exits_0_or_65_never_75(cli_env) -> None:
    env = {**cli_env, "TESSERA_USER": "root"}
    assert run(["db", "upgrade"], env).code == 0
    env["TESSERA_USER"] = json.loads(run(["user", "list", "--json"], env).out)[0]["name"]
    assert run(["queue", "set", "General", "correspond_address=help@desk.example"], env).code == 0
    assert run(["right", "grant", "CreateTicket", "role:Everyone", "--queue", "General"], env).code == 0
    for number, (field, (raw, expected)) in enumerate(FIELDS.items()):
        raw = raw.replace(b"<m1@", f"<n{number}@".encode())
        result = run_bytes(["mailgate", "--queue", "General", "--json"], env, raw)
        assert result.returncode in (EX_OK, EX_DATAERR), (field, result.stderr)
        assert json.loads(result.stdout)["action"] == expected, (field, result.stdout)


def test_every_field_over_lmtp_is_250_or_550_never_451(database) -> None:
    with database.session() as session:
        desk = make_desk(session)
        grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
        session.commit()
    port = free_port()
    controller = start(database, "127.0.0.1", port)
    try:
        for number, (field, (raw, expected)) in enumerate(FIELDS.items()):
            raw = raw.replace(b"<m1@", f"<l{number}@".encode())
            with smtplib.LMTP("127.0.0.1", port) as client:
                try:
                    client.sendmail("carla@customer.example", ["help@desk.example"], crlf(raw))
                    code = 250
                except smtplib.SMTPDataError as exc:  # a single recipient: its one reply
                    code = exc.smtp_code
            assert code == 250 if expected == "create" else code in (250, 550), (field, code)
    finally:
        controller.stop()


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_only_failures_of_the_database_or_machine_count_as_temporary(database) -> None:
    import psycopg
    from sqlalchemy import text
    from sqlalchemy.exc import DataError, IntegrityError, OperationalError

    from tessera.core.db import open_database
    from tessera.core.errors import DatabaseUnavailable
    from tessera.mail.gateway import retrying_may_help

    errors: list[BaseException] = []
    refused = [
        ("SELECT CAST(:v AS text)", {"v": "a\x00b"}),  # a NUL
        ("SELECT 1 / :z", {"z": 0}),
        ("CREATE TEMP TABLE n (v varchar(200)); INSERT INTO n VALUES (repeat('x', 300))", {}),
    ]
    with database.session() as session:
        for statement, params in refused:
            try:
                session.execute(text(statement), params)
            except DataError as exc:  # each: a value the database refuses, whoever retries
                errors.append(exc)
            session.rollback()
        try:
            session.execute(text("CREATE TEMP TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (1)"))
        except IntegrityError as exc:
            errors.append(exc)
        session.rollback()
    assert len(errors) == 4 and not any(retrying_may_help(e) for e in errors), errors
    assert not retrying_may_help(ValueError("a bug this message meets every time"))
    try:  # the real thing: a server nobody runs
        open_database(database.url.set(host="127.0.0.1", port=free_port(), query={}))
    except DatabaseUnavailable as exc:
        assert retrying_may_help(exc)
    else:
        raise AssertionError("a server nobody runs answered")
    gone = OperationalError("SELECT 1", {}, psycopg.OperationalError("the connection is lost"))
    assert retrying_may_help(gone)

"""Header injection (issue 16, point 1): a stranger's value never becomes a header of the desk's mail.

Each attack arrives through the real `tessera mailgate`, is filed, and the notifications the scrips
queue go out through the real `tessera worker` to a real SMTP server on loopback. What the server
receives must carry no header and no recipient the attacker chose. A property-based test then
feeds arbitrary decoded strings through the gateway, the templates and the worker, and one feeds
them to the builder directly.
"""

from __future__ import annotations

import base64
import json
from email import message_from_bytes, policy
from email.utils import getaddresses, make_msgid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tessera.core import customfields, grants, tickets
from tessera.core.context import open_context
from tessera.core.db import open_database
from tessera.core.models import OutboxMessage, Scrip, ScripTemplate
from tessera.mail.delivery import SmtpSettings, deliver_due
from tessera.mail.gateway import Settings, deliver
from tessera.scrips import compose
from tests.support.cli import run
from tests.support.desks import make_desk
from tests.support.net import free_port
from tests.support.smtp import SmtpServer, smtp_env

DESK = "help@desk.example"
CUSTOMER = "carla@customer.example"
COLLEAGUE = "colleague@customer.example"
EVIL = "evil.example"

# A template an admin could well write: values a stranger controls in its header lines.
STRANGER_TEMPLATE = """Subject: Re: {{ transaction.subject }}
X-Customer: {{ actor.real_name }} <{{ actor.email }}>
X-Summary: {{ transaction.content }}
X-Order: {{ ticket.custom_fields.get("Order") }}

We got your message:
{{ transaction.content }}
"""

# The same headers every message of the desk carries (plus To/Cc, Precedence...): any other header
# name, or one of these twice, came from somewhere it should not.
ALLOWED = {
    "message-id", "date", "subject", "from", "reply-to", "to", "cc", "in-reply-to", "references",
    "x-tessera-ticket", "x-tessera-loop-prevention", "x-tessera-originator", "auto-submitted",
    "precedence", "mime-version", "content-type", "content-transfer-encoding", "x-customer",
    "x-summary", "x-order",
}  # fmt: skip


def b_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


VARIANTS = {
    "q-encoded CRLF then Bcc in the subject": {"Subject": "=?utf-8?q?Hi=0D=0ABcc:_attacker@evil.example?="},
    "b-encoded LF then To in the subject": {"Subject": b_word("Hi\nTo: attacker@evil.example")},
    "q-encoded LF then Reply-To in the subject": {
        "Subject": "=?utf-8?q?Hi=0AReply-To:_attacker@evil.example?="
    },
    "b-encoded CR then Cc in the subject": {"Subject": b_word("Hi\rCc: attacker@evil.example")},
    "an empty line then a body in the subject": {
        "Subject": b_word("Hi\r\n\r\nBcc: attacker@evil.example\r\nReply-To: attacker@evil.example")
    },
    "unicode line separators in the subject": {
        "Subject": b_word("Hi\u2028Bcc: attacker@evil.example\x85Reply-To: attacker@evil.example\x0bX")
    },
    "q-encoded CRLF then Bcc in the display name": {
        "Name": "=?utf-8?q?Carla=0D=0ABcc:_attacker@evil.example?="
    },
    "b-encoded LF then Reply-To in the display name": {
        "Name": b_word("Carla\nReply-To: attacker@evil.example")
    },
    "header lines in the body": {"body": "Hi\nBcc: attacker@evil.example\nReply-To: attacker@evil.example"},
}


def raw_mail(headers: dict[str, str], sender: str = CUSTOMER) -> str:
    fields = {
        "From": f"{headers.get('Name', 'Carla Customer')} <{sender}>",
        "To": DESK,
        "Cc": f"Colleague <{COLLEAGUE}>",
        "Subject": "Printer on fire",
        "Message-ID": make_msgid(domain="customer.example"),
        **{k: v for k, v in headers.items() if k not in ("body", "Name")},
    }
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    body = headers.get("body", "It is on fire.")
    return head + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"


def add_stranger_template(session) -> None:
    """The stranger's values in header lines of an autoreply (which answers the sender too)."""
    session.add(ScripTemplate(name="Stranger", queue_id=None, content=STRANGER_TEMPLATE))
    session.add(
        Scrip(description="On Create Stranger Autoreply", queue_id=None, stage="TransactionCreate",
              sort_order=5, enabled=True, condition="OnCreate", condition_argument="", action="AutoReply",
              action_argument="", template="Stranger")
    )  # fmt: skip
    session.commit()


def assert_nothing_injected(received, allowed_rcpts: set[str]) -> None:
    """Every message as the SMTP server got it: the envelope and headers the desk chose, no other."""
    assert received, "no mail reached the SMTP server"
    for got in received:
        assert set(got.rcpt_tos) <= allowed_rcpts, got.rcpt_tos
        assert EVIL not in got.mail_from
        msg = got.message
        names = [name.lower() for name in msg]
        assert set(names) <= ALLOWED, sorted(set(names) - ALLOWED)
        assert len(names) == len(set(names)), names  # no header twice
        assert msg["Reply-To"] == DESK
        for name in ("to", "cc", "from", "reply-to"):
            for _, address in getaddresses(msg.get_all(name, [])):
                assert EVIL not in address, (name, msg[name])
        for name, value in msg.items():
            assert "\n" not in str(value) and "\r" not in str(value), (name, value)


@pytest.fixture
def gateway_desk(cli_env, db_url):
    env = {**cli_env, "TESSERA_USER": "root"}
    assert run(["db", "upgrade"], env).code == 0
    env["TESSERA_USER"] = json.loads(run(["user", "list", "--json"], env).out)[0]["name"]
    assert run(["queue", "set", "General", f"correspond_address={DESK}"], env).code == 0
    assert run(["right", "grant", "CreateTicket", "role:Everyone", "--queue", "General"], env).code == 0
    db = open_database(db_url)
    try:
        with db.session() as session:
            add_stranger_template(session)
    finally:
        db.dispose()
    env["TESSERA_MAIL_CC_WATCHERS"] = "1"  # a Cc in the attack gets the creation's notice too
    return env


def test_encoded_line_breaks_never_become_headers_through_mailgate_worker_and_smtp(gateway_desk) -> None:
    server = SmtpServer(free_port()).start()
    try:
        env = {**gateway_desk, **smtp_env(server.port)}
        for number, (variant, headers) in enumerate(VARIANTS.items()):
            server.received.clear()
            sender = f"carla{number}@customer.example"  # a new user each time: the display name is stored
            filed = run(["mailgate", "--queue", "General", "--json"], env, stdin=raw_mail(headers, sender))
            assert filed.code == 0, (variant, filed)
            assert json.loads(filed.out)["action"] == "create", variant
            sent = run(["worker", "--once", "--json"], env)
            assert sent.code == 0, (variant, sent)
            # The default autoreply, the template above (both to Carla), the Cc notification.
            assert json.loads(sent.out) == {"sent": 3, "failed": 0, "retried": 0, "pending": 0}, variant
            received = server.wait_for(3)
            assert len(received) == 3, variant
            assert_nothing_injected(received, {sender, COLLEAGUE})
            # The attacker's text is still there, on the one line it came on.
            texts = [" ".join(str(v) for v in r.message.values()) for r in received]
            assert any("attacker@evil.example" in t for t in texts), (variant, texts)
    finally:
        server.stop()


def test_a_custom_field_value_with_line_breaks_stays_in_its_header(database) -> None:
    server = SmtpServer(free_port()).start()
    try:
        with database.session() as session:
            desk = make_desk(session)
            desk.disable_defaults()
            add_stranger_template(session)
            customfields.create_field(desk.root, "Order")
            session.commit()
            value = "42\r\nBcc: attacker@evil.example\nReply-To: attacker@evil.example"
            desk.ticket(requestors=[CUSTOMER], custom_fields={"Order": value})
        deliver_due(database, SmtpSettings.from_env(smtp_env(server.port)))
        received = server.wait_for(1)
        assert_nothing_injected(received, {CUSTOMER})
        assert (
            received[0].message["X-Order"] == "42 Bcc: attacker@evil.example Reply-To: attacker@evil.example"
        )
    finally:
        server.stop()


def test_a_template_still_sets_its_own_headers_and_keeps_value_line_breaks_in_the_body(
    database,
) -> None:
    server = SmtpServer(free_port()).start()
    try:
        with database.session() as session:
            desk = make_desk(session)
            desk.disable_defaults()
            own = "Subject: {{ ticket.subject }}\nCc: boss@desk.example\nX-Lines: {{ transaction.content }}\n"
            desk.add_template("Own", own + "\n{{ transaction.content }}\n")
            desk.add_scrip("own", condition="OnCreate", action="AutoReply", template="Own")
            desk.ticket(requestors=[CUSTOMER], body="line one\nline two\r\nline three")
        deliver_due(database, SmtpSettings.from_env(smtp_env(server.port)))
        (got,) = server.wait_for(1)
        assert sorted(got.rcpt_tos) == ["boss@desk.example", CUSTOMER]
        assert got.message["X-Lines"] == "line one line two line three"
        assert "line one\nline two\nline three" in got.message.get_content().replace("\r\n", "\n")
    finally:
        server.stop()


# -- property-based: arbitrary decoded strings ---------------------------------------------------------

# Any text, weighted towards what breaks headers: line breaks of every kind, controls, colons.
HOSTILE = st.lists(
    st.one_of(
        st.text(st.characters(codec="utf-8"), max_size=8),
        st.sampled_from(["\r", "\n", "\r\n", "\x00", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029",
                         ":", " ", "Bcc: attacker@evil.example", "\ufdd0", "\ufdd1", "=?", "?="]),
    ),
    max_size=12,
).map("".join)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(value=HOSTILE, name=HOSTILE, address=HOSTILE)
def test_build_makes_every_header_one_line_for_any_value(value: str, name: str, address: str) -> None:
    out = compose.build(
        ticket_id=7,
        tag="TKT-0007",
        scrip_id=1,
        template_headers=[("Subject", value), ("X-Any", value), ("Reply-To", value), ("To", address)],
        body=value,
        default_subject=value,
        from_address=address if "@" in address else DESK,
        from_display=name,
        to=[CUSTOMER, address],
        cc=[value],
        bcc=[],
        in_reply_to=value,
        parent_references=[value, name],
        auto_submitted="auto-replied",
        actor_email=address,
    )
    text = out.as_text()
    head, _, _ = text.partition("\r\n\r\n")
    for line in head.split("\r\n"):
        assert line[:1] in (" ", "\t") or (":" in line and line.split(":", 1)[0].isascii()), line
    msg = message_from_bytes(text.encode(), policy=policy.default)
    assert not msg.defects, msg.defects
    names = [n.lower() for n in msg]
    assert len(names) == len(set(names))
    assert set(names) <= {*ALLOWED, "x-any"}
    for envelope_address in [out.mail_from, *out.recipients]:
        assert compose.clean_address(envelope_address) == envelope_address


def test_a_subjects_escape_sequences_leave_the_outgoing_header_whole() -> None:
    """A stranger's subject with a colour and an OSC 52 clipboard write goes out as its words:
    removing the ESC byte alone left `[31mRED [0m ]52;c;aGVsbG8=` in the desk's Subject."""
    hostile = "Hostile \x1b[31mRED\x1b[0m \x1b]52;c;aGVsbG8=\x07done \x9b1mC1\r\nBcc: x@evil.example"
    out = compose.build(
        ticket_id=7,
        tag="TKT-0007",
        scrip_id=1,
        template_headers=[("Subject", f"Re: {hostile}")],
        body="body",
        default_subject=hostile,
        from_address=DESK,
        from_display="Desk",
        to=[CUSTOMER],
        cc=[],
        bcc=[],
        in_reply_to=None,
        parent_references=[],
        auto_submitted="auto-replied",
        actor_email=CUSTOMER,
    )
    msg = message_from_bytes(out.as_text().encode(), policy=policy.default)
    assert str(msg["Subject"]) == "[TKT-0007] Re: Hostile RED done C1 Bcc: x@evil.example"
    assert msg["Bcc"] is None


@pytest.fixture
def property_desk(database):
    server = SmtpServer(free_port()).start()
    with database.session() as session:
        desk = make_desk(session)
        grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
        add_stranger_template(session)
        customfields.create_field(desk.root, "Order")
        session.commit()
        yield desk, server
    server.stop()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=HOSTILE, display=HOSTILE, body=HOSTILE)
def test_any_decoded_subject_name_or_body_through_gateway_and_worker(
    database, property_desk, subject: str, display: str, body: str
) -> None:
    desk, server = property_desk
    server.received.clear()
    sender = f"p{abs(hash((subject, display, body))) % 10**9}@customer.example"
    # Every value travels encoded (RFC 2047 in headers, base64 in the body): what the desk sees once
    # decoded is exactly the generated string, line breaks and controls included.
    head = (
        f"From: {b_word(display)} <{sender}>\r\nTo: {DESK}\r\nCc: {COLLEAGUE}\r\n"
        f"Subject: Q {b_word(subject)}\r\nMessage-ID: {make_msgid(domain='customer.example')}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    raw = head.encode() + base64.encodebytes(body.encode())
    outcome = deliver(desk.session, raw, "General", "correspond", Settings())
    assert outcome.action == "create", outcome.reason
    ctx = open_context(desk.session, "root")
    ticket = tickets.get_ticket(ctx, outcome.ticket)
    tickets.set_custom_field(ctx, ticket, "Order", subject.replace("\x00", "")[:200])
    desk.session.commit()
    deliver_due(database, SmtpSettings.from_env(smtp_env(server.port)))
    queued = desk.session.scalars(
        select(OutboxMessage).where(OutboxMessage.ticket_id == outcome.ticket)
    ).all()
    received = server.wait_for(len(queued))
    assert len(received) == len(queued) >= 2
    assert_nothing_injected(received, {sender, COLLEAGUE})

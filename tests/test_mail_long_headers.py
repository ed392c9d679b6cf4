"""No line of the desk's mail is over 998 characters (RFC 5322 2.1.1): a long header is folded at
its spaces, a word too long for a line is written as encoded words, a message id too long to fit
one is not referred to. An SMTP server refuses a longer line ("500 Line too long"), so a stranger's
long References chain or long subject made the desk's answer to them undeliverable.

Through the real `tessera mailgate` and `tessera worker` to a real SMTP server on loopback (which
refuses lines over 1000 characters, as most do), then the builder directly.
"""

from __future__ import annotations

import json
from email import message_from_string, policy

from tessera.core import grants
from tessera.scrips import compose
from tests.support.cli import run
from tests.support.desks import make_desk
from tests.support.net import free_port
from tests.support.smtp import SmtpServer, smtp_env

LONG_ID = "a" * 180
REFERENCES = [f"<r{i}.{LONG_ID}@x.example>" for i in range(12)]
SUBJECT = " ".join(f"word{i}" for i in range(400))


def _message() -> str:
    return (
        "From: Carla <carla@customer.example>\nTo: help@desk.example\nCc: colleague@customer.example\n"
        f"Subject: {SUBJECT}\nMessage-ID: <m.{LONG_ID}@customer.example>\n"
        f"References: {' '.join(REFERENCES)}\n\nIt is on fire.\n"
    )


def test_a_long_references_chain_and_a_long_subject_still_reach_the_smtp_server(database, cli_env) -> None:
    with database.session() as session:
        desk = make_desk(session)
        grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
        session.commit()
    server = SmtpServer(free_port()).start()
    try:
        env = {**cli_env, **smtp_env(server.port), "TESSERA_MAILGATE_WAIT": "0"}
        env["TESSERA_MAIL_CC_WATCHERS"] = "1"  # the Cc's notice: a second long subject
        filed = run(["mailgate", "--queue", "General", "--json"], env, stdin=_message())
        assert filed.code == 0 and json.loads(filed.out)["action"] == "create", filed
        sent = run(["worker", "--once", "--json"], env)
        # The autoreply to Carla and the creation's notice to her Cc: neither refused for its length.
        assert json.loads(sent.out) == {"sent": 2, "failed": 0, "retried": 0, "pending": 0}, sent
        received = server.wait_for(2)
        assert len(received) == 2
        for got in received:
            message = got.message
            references = str(message["References"]).split()
            assert references[-1] == f"<m.{LONG_ID}@customer.example>"
            assert references[-2] == REFERENCES[-1] and len(references) == compose.MAX_REFERENCES
            assert str(message["In-Reply-To"]) == f"<m.{LONG_ID}@customer.example>"
        subjects = [str(r.message["Subject"]) for r in received]
        assert f"[TKT-0001] {SUBJECT}" in subjects, subjects  # the Cc's notice: unfolded, as it came
    finally:
        server.stop()


def _lines(outgoing: compose.Outgoing) -> list[str]:
    head = outgoing.as_text().split("\r\n\r\n", 1)[0]
    return head.split("\r\n")


def _built(**overrides: object) -> compose.Outgoing:
    values: dict[str, object] = {
        "ticket_id": 42,
        "tag": "TKT-0042",
        "scrip_id": 1,
        "template_headers": [],
        "body": "Hello.\n",
        "default_subject": "Printer on fire",
        "from_address": "help@desk.example",
        "from_display": "Alice via Tessera",
        "to": ["carla@customer.example"],
        "cc": [],
        "bcc": [],
        "in_reply_to": None,
        "parent_references": [],
        "auto_submitted": "auto-generated",
        "actor_email": "alice@desk.example",
    }
    values.update(overrides)
    return compose.build(**values)  # type: ignore[arg-type]


def test_no_header_line_of_an_outgoing_message_is_over_998_characters() -> None:
    cases = {
        "a subject with no space": {"default_subject": "x" * 3000},
        "a subject of words": {"default_subject": SUBJECT},
        "a subject not in ASCII": {"default_subject": "ü" * 3000},
        "two hundred Cc": {"cc": [f"person{i}@customer.example" for i in range(200)]},
        "a sender's name with no space": {"from_display": "N" * 1500},
        "a sender's name not in ASCII": {"from_display": "Ñ" * 1500},
        "references as long as they may be": {
            "parent_references": [f"<{i}{'r' * 890}@x>" for i in range(10)],
            "in_reply_to": f"<{'i' * 890}@x>",
        },
        "a template's header": {"template_headers": [("X-Summary", "y " * 2000)]},
    }
    for case, overrides in cases.items():
        outgoing = _built(**overrides)
        lines = _lines(outgoing)
        assert max(len(line) for line in lines) <= compose.LINE_LIMIT, case
        parsed = message_from_string(outgoing.as_text(), policy=policy.default)
        if "default_subject" in overrides:
            assert str(parsed["Subject"]) == f"[TKT-0042] {overrides['default_subject']}".strip(), case
        if "cc" in overrides:
            assert [a.addr_spec for a in parsed["Cc"].addresses] == overrides["cc"], case
        if "in_reply_to" in overrides:
            assert str(parsed["In-Reply-To"]) == overrides["in_reply_to"], case
            assert str(parsed["References"]).split()[1:] == [
                *overrides["parent_references"][2:],
                overrides["in_reply_to"],
            ]
    # A message id that cannot fit a line is not referred to (it could not be folded).
    too_long = _built(in_reply_to=f"<{'i' * 1000}@x>", parent_references=[f"<{'r' * 1000}@x>"])
    assert "In-Reply-To" not in too_long.headers
    assert too_long.headers["References"] == "<tessera-ticket-42@desk.example>"
    # Short headers are left on their line.
    assert "Subject: [TKT-0042] Printer on fire" in _lines(_built())


def test_a_stored_message_with_an_unfolded_long_header_is_folded_when_sent_so_a_retry_succeeds(
    database, cli_env
) -> None:
    """An outbox row written before outgoing headers were folded (its Subject one line of over
    998 characters) was refused by the server on every attempt: `tessera mail retry` then
    `tessera worker` send it, folded, and the subject arrives whole."""
    from tessera.core.models import OutboxMessage
    from tessera.core.schemas import MessageIn, TicketCreate
    from tessera.core.tickets import create_ticket

    with database.session() as session:
        desk = make_desk(session)
        ticket = create_ticket(
            desk.root, TicketCreate(queue="General", subject="old mail", message=MessageIn(body="hi"))
        )
        subject = f"[TKT-{ticket.id:04d}] {SUBJECT}"
        text = (
            "\r\n".join(
                [
                    "From: help@desk.example",
                    "To: carla@customer.example",
                    f"Subject: {subject}",
                    "Message-ID: <old-row@desk.example>",
                    "MIME-Version: 1.0",
                    'Content-Type: text/plain; charset="utf-8"',
                    "Content-Transfer-Encoding: 7bit",
                ]
            )
            + "\r\n\r\nIt is on fire.\r\n"
        )
        assert max(len(line) for line in text.split("\r\n")) > compose.LINE_LIMIT
        refused = {"state": "refused", "code": 500, "reply": "500 Line too long.", "attempts": 1}
        row = OutboxMessage(
            ticket_id=ticket.id,
            message_id="<old-row@desk.example>",
            mail_from="help@desk.example",
            recipients=["carla@customer.example"],
            summary={"to": ["carla@customer.example"], "subject": subject},
            message=text,
            status="failed",
            last_error="carla@customer.example: 500 Line too long.",
            delivery={"carla@customer.example": refused},
        )
        session.add(row)
        session.commit()
        outbox_id = row.id
    server = SmtpServer(free_port()).start()
    try:
        env = {**cli_env, **smtp_env(server.port)}
        retried = run(["mail", "retry", str(outbox_id), "--json"], env)
        assert retried.code == 0, retried
        assert json.loads(retried.out)["requeued"] == ["carla@customer.example"]
        sent = run(["worker", "--once", "--json"], env)
        assert json.loads(sent.out) == {"sent": 1, "failed": 0, "retried": 0, "pending": 0}, sent
        (got,) = server.wait_for(1)
        assert str(got.message["Subject"]) == subject
        assert got.message.get_content().strip() == "It is on fire."
    finally:
        server.stop()


def test_sendable_leaves_a_message_within_the_limit_as_it_is_and_folds_only_the_long_header() -> None:
    folded = _built(default_subject=SUBJECT).as_text()
    assert compose.sendable(folded) == folded
    long_to = "To: " + ", ".join(f"p{i}@customer.example" for i in range(80))
    stored = f"From: help@desk.example\r\n{long_to}\r\nX-Short: kept\r\n folded on\r\n\r\nbody line\r\n"
    repaired = compose.sendable(stored)
    head, body = repaired.split("\r\n\r\n")
    assert body == "body line\r\n"
    assert max(len(line) for line in head.split("\r\n")) <= compose.FOLD_WIDTH
    assert head.startswith("From: help@desk.example\r\nTo: p0@customer.example,")
    assert head.endswith("\r\nX-Short: kept\r\n folded on")
    parsed = message_from_string(repaired, policy=policy.default)
    assert len(parsed["To"].addresses) == 80

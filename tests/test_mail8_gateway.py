"""The gateway's contract as an MTA and a desk admin see it: `--json` keys for every outcome,
exit codes for input that can never be accepted, threading through every kind of reference
(also after a merge), a tag for a ticket that does not exist, LMTP transactions with several
recipients (one message to a queue's two addresses is filed once), LMTP with the database down,
and where an admin reads the decision taken on each message."""

from __future__ import annotations

import json
import smtplib
import socket

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from tessera.core import grants, links
from tessera.core.context import open_context
from tessera.core.db import Database, make_engine
from tessera.core.errors import InvalidInput, NotFound, PermissionDenied
from tessera.core.models import InboundMail, Ticket
from tessera.mail.gateway import EX_DATAERR, EX_OK, Settings
from tessera.mail.lmtp import start
from tessera.mail.records import get_inbound, list_inbound
from tests import test_mail_gateway as gateway_tests
from tests.helpers import assert_one_line_error, run
from tests.test_mail_gateway import go, mail, outbox_for
from tests.test_scrips_support import engine_on, free_port

desk, open_desk, cli_desk = gateway_tests.desk, gateway_tests.open_desk, gateway_tests.cli_desk

KEYS = {"action", "ticket", "reason"}


def test_outcome_json_has_exactly_the_contract_keys(open_desk) -> None:  # type: ignore[no-untyped-def]
    desk = open_desk
    grants.grant(desk.root, "CommentOnTicket", "role:Requestor", "General")
    created = go(desk, mail())
    tag = f"[TKT-{created.ticket:04d}]"
    outcomes = {
        "create": created,
        "correspond": go(desk, mail(subject=f"Re: {tag} more")),
        "comment": go(desk, mail(subject=f"{tag} note"), "comment"),
        "dropped": go(desk, mail(Auto_Submitted="auto-generated")),
        "dropped 65": go(desk, b"Subject: x\n\nno sender\n"),
    }
    for name, outcome in outcomes.items():
        assert outcome.action == name.split()[0], (name, outcome.reason)
        assert set(outcome.as_dict()) == KEYS, name
    assert outcomes["comment"].ticket == created.ticket
    assert outcomes["dropped"].as_dict()["ticket"] is None


def test_mailgate_cli_never_acceptable_input_is_65_one_line(cli_desk) -> None:  # type: ignore[no-untyped-def]
    env = cli_desk
    cases = {
        "": "empty message",
        "\x00\x01\x02 garbage \ufffd\n\n\x7f": "no originator",
        "From: Just A Name\nSubject: no address\n\nhi\n": "no originator",
    }
    for stdin, fragment in cases.items():
        result = run(["mailgate", "--queue", "General", "--json"], env, stdin=stdin)
        assert result.code == EX_DATAERR, (stdin, result)
        assert set(json.loads(result.out)) == KEYS
        assert_one_line_error(result, fragment)
    # Each refusal is kept with its reason, and an admin reads them through the real program.
    listed = run(["mail", "list", "--action", "dropped", "--json"], env)
    assert listed.code == 0, listed
    dropped = json.loads(listed.out)
    assert len(dropped) == len(cases) and all(r["action"] == "dropped" and r["reason"] for r in dropped)
    shown = run(["mail", "show", str(dropped[0]["id"]), "--raw"], env)
    assert shown.code == 0 and "no address" in shown.out, shown
    assert_one_line_error(run(["mail", "show", "999999"], env), "999999")


def test_null_from_is_a_bounce_and_a_bare_name_is_quarantined(open_desk) -> None:  # type: ignore[no-untyped-def]
    for sender, (action, code, kind) in {
        "<>": ("dropped", EX_OK, "bounce"),
        "Mail Delivery Subsystem <MAILER-DAEMON>": ("dropped", EX_OK, "bounce"),
        "Just A Name": ("dropped", EX_DATAERR, "quarantine"),
        "": ("dropped", EX_DATAERR, "quarantine"),
    }.items():
        raw = f"From: {sender}\nSubject: something\n\nbody\n".encode()
        outcome = go(open_desk, raw)
        assert (outcome.action, outcome.exit_code, outcome.classification) == (action, code, kind), sender


def test_settings_refuse_a_limit_that_is_not_positive() -> None:
    for value in ("0", "-5", "lots"):
        with pytest.raises(InvalidInput):
            Settings.from_env({"TESSERA_MAIL_MAX_BYTES": value})
    assert Settings.from_env({"TESSERA_MAIL_MAX_BYTES": "2048"}).max_bytes == 2048


def test_threading_by_every_reference_and_after_a_merge(open_desk) -> None:  # type: ignore[no-untyped-def]
    desk = open_desk
    stored_id = "<original.1@customer.example>"
    first = go(desk, mail(message_id=stored_id))
    sent_id = outbox_for(desk, first.ticket)[0].message_id
    for header, value in (
        ("In_Reply_To", sent_id),
        ("References", f"<unrelated@x.example> {sent_id}"),
        ("In_Reply_To", stored_id),
        ("References", stored_id),
    ):
        outcome = go(desk, mail(subject="Re: no tag here", **{header: value}))
        assert (outcome.action, outcome.ticket) == ("correspond", first.ticket), (header, outcome.reason)
    survivor = go(desk, mail(subject="Another problem"))
    links.merge(desk.root, first.ticket, survivor.ticket)
    for header, value in (("In_Reply_To", sent_id), ("References", stored_id)):
        outcome = go(desk, mail(subject="Re: after the merge", **{header: value}))
        assert (outcome.action, outcome.ticket) == ("correspond", survivor.ticket), (header, outcome.reason)


def test_tag_of_the_right_shape_for_no_ticket_opens_a_new_one(open_desk) -> None:  # type: ignore[no-untyped-def]
    desk = open_desk
    go(desk, mail())
    outcome = go(desk, mail(subject="Re: [TKT-4242] where is my order"))
    assert outcome.action == "create" and outcome.ticket != 4242
    assert "[TKT-4242] names no ticket" in outcome.reason
    ticket = desk.session.get(Ticket, outcome.ticket)
    assert ticket.subject == "Re: [TKT-4242] where is my order"
    other_desk = go(desk, mail(subject=f"Re: [desk.example #{outcome.ticket}] hello"))
    assert other_desk.action == "create" and other_desk.ticket not in (outcome.ticket, 4242)


def test_an_admin_reads_every_decision_and_a_requestor_none(open_desk) -> None:  # type: ignore[no-untyped-def]
    desk = open_desk
    first = go(desk, mail())
    stranger = go(desk, mail(sender="mallory@evil.example", subject=f"[TKT-{first.ticket:04d}] data?"))
    robot = go(desk, mail(Precedence="bulk"))
    records = list_inbound(desk.root)
    assert [r.id for r in records] == [robot.inbound_id, stranger.inbound_id, first.inbound_id]
    decided = {r.id: r for r in records}[stranger.inbound_id]
    assert decided.ticket == stranger.ticket and "may not correspond" in decided.reason
    assert [r.id for r in list_inbound(desk.root, action="dropped")] == [robot.inbound_id]
    record, raw = get_inbound(desk.root, robot.inbound_id)
    assert record.classification == "list" and raw is not None and b"Precedence: bulk" in raw
    with pytest.raises(InvalidInput):
        list_inbound(desk.root, action="lost")
    carla = open_context(desk.session, "carla@customer.example")
    assert list_inbound(carla) == []
    with pytest.raises(PermissionDenied):
        list_inbound(carla, queue="General")
    with pytest.raises(NotFound):
        get_inbound(carla, first.inbound_id)


# -- LMTP --------------------------------------------------------------------------------------


@pytest.fixture
def lmtp_port(database):  # type: ignore[no-untyped-def]
    from tests.test_scrips_support import make_scrip_desk

    with engine_on():
        with database.session() as session:
            made = make_scrip_desk(session)
            grants.grant(made.root, "CreateTicket", "role:Everyone", "General")
            session.commit()
        port = free_port()
        controller = start(database, "127.0.0.1", port, Settings())
        try:
            yield port
        finally:
            controller.stop()


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


def test_lmtp_several_recipients_one_reply_each_and_filed_once(database, lmtp_port) -> None:  # type: ignore[no-untyped-def]
    raw = mail(to="help@desk.example", Cc="help-comment@desk.example")
    rcpts = [b"help@desk.example", b"nobody@desk.example", b"HELP-Comment@Desk.Example"]
    rcpt_replies, data_replies = lmtp_session(lmtp_port, rcpts, raw)
    assert [r[:3] for r in rcpt_replies] == [b"250", b"550", b"250"]
    assert data_replies[0].startswith(b"250") and b"<help@desk.example> create" in data_replies[0]
    assert data_replies[1].startswith(b"250") and b"duplicate" in data_replies[1]
    with database.session() as session:
        rows = session.scalars(select(InboundMail).order_by(InboundMail.id)).all()
        assert [(r.requested_action, r.action) for r in rows] == [
            ("correspond", "create"),
            ("comment", "dropped"),
        ]
        assert rows[1].classification == "duplicate" and rows[1].ticket_id == rows[0].ticket_id
        assert len(session.scalars(select(Ticket.id)).all()) == 1
    with smtplib.LMTP("127.0.0.1", lmtp_port) as client:  # a real client, an unknown recipient alone
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

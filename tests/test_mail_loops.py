"""Loops and bounces the gateway drops tell the desk's owner, rate-limited; StoreLoops keeps our own
mail coming back on its ticket without answering it (issue 20, point 2; RT's $OwnerEmail,
LoopsToRTOwner and $StoreLoops)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tessera.core import grants, tickets
from tessera.core.models import InboundMail, OutboxMessage, Transaction
from tessera.core.schemas import MessageIn
from tessera.mail.gateway import NOTICE_KIND, Settings
from tests.support.cli import run
from tests.support.desks import Desk
from tests.support.mail import go, mail, outbox_for, transactions
from tests.support.net import free_port
from tests.support.smtp import SmtpServer, smtp_env

OWNER = "owner@admins.example"
BOUNCE = (
    "From: MAILER-DAEMON@mx.customer.example\nTo: help@desk.example\nSubject: Undelivered Mail\n"
    "Message-ID: <{n}@mx.customer.example>\nContent-Type: multipart/report; report-type=delivery-status;"
    ' boundary="b"\n\n--b\nContent-Type: text/plain\n\nno such user\n--b\n'
    "Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; gone@customer.example\n--b--\n"
)


def _notices(desk: Desk) -> list[OutboxMessage]:
    desk.session.expire_all()
    return list(
        desk.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.summary["kind"].astext == NOTICE_KIND)
            .order_by(OutboxMessage.id)
        )
    )


@pytest.fixture
def open_desk(committed_desk: Desk) -> Desk:
    grants.grant(committed_desk.root, "CreateTicket", "role:Everyone", "General")
    grants.grant(committed_desk.root, "ReplyToTicket", "role:Requestor", "General")
    return committed_desk


def test_a_dropped_loop_tells_the_owner(open_desk: Desk) -> None:
    outcome = go(
        open_desk, mail(X_Tessera_Loop_Prevention="Tessera", subject="round and round"), owner_email=OWNER
    )
    assert (outcome.action, outcome.classification) == ("dropped", "loop")
    assert f"the owner ({OWNER}) is told" in outcome.reason
    [notice] = _notices(open_desk)
    assert notice.recipients == [OWNER] and notice.ticket_id is None
    assert "A mail loop was dropped: round and round" in notice.summary["subject"]
    assert "carla@customer.example" in notice.summary["body"]
    assert "X-Tessera-Loop-Prevention: Tessera" in notice.message  # a copy coming back is a loop too
    assert "Auto-Submitted: auto-generated" in notice.message
    row = open_desk.session.get(InboundMail, outcome.inbound_id)
    assert "is told" in row.reason


def test_a_dropped_bounce_tells_the_owner_and_people_do_not(open_desk: Desk) -> None:
    bounce = go(open_desk, BOUNCE.format(n=1).encode(), owner_email=OWNER)
    assert (bounce.action, bounce.classification) == ("dropped", "bounce"), bounce.reason
    person = go(open_desk, mail(), owner_email=OWNER)
    assert person.action == "create"
    auto = go(open_desk, mail(Auto_Submitted="auto-replied"), owner_email=OWNER)
    assert auto.action == "dropped" and auto.classification == "auto-reply"
    assert len(_notices(open_desk)) == 1


def test_no_owner_no_notice(open_desk: Desk) -> None:
    outcome = go(open_desk, mail(X_Tessera_Loop_Prevention="Tessera"))
    assert outcome.classification == "loop" and "owner" not in outcome.reason
    assert _notices(open_desk) == []


def test_notices_are_rate_limited_so_a_loop_cannot_flood_the_owner(open_desk: Desk) -> None:
    reasons = []
    for n in range(6):
        raw = mail(X_Tessera_Loop_Prevention="Tessera", subject=f"loop {n}")
        reasons.append(go(open_desk, raw, owner_email=OWNER, owner_notices_per_hour=3).reason)
    assert len(_notices(open_desk)) == 3
    assert all("is told" in r for r in reasons[:3])
    assert all("not told: 3 notices in the last hour already" in r for r in reasons[3:]), reasons


def test_an_owner_address_that_is_the_desks_own_is_never_mailed(open_desk: Desk) -> None:
    outcome = go(open_desk, mail(X_Tessera_Loop_Prevention="Tessera"), owner_email="help@desk.example")
    assert "not told" in outcome.reason and _notices(open_desk) == []


def test_store_loops_keeps_our_mail_on_its_ticket_and_mails_no_one(open_desk: Desk) -> None:
    desk = open_desk
    created = go(desk, mail(Cc="colleague@customer.example"))
    agent_txn = tickets.correspond(desk.root, created.ticket, MessageIn(body="Try turning it off."))
    ours = [o for o in outbox_for(desk, created.ticket) if o.transaction_id == agent_txn.id]
    assert ours, "the reply went out"
    sent = ours[0]
    # The desk's own message comes straight back (a forwarding loop), headers and all.
    echoed = sent.message.encode()
    kept = go(desk, echoed, store_loops=True, owner_email=OWNER)
    assert (kept.action, kept.ticket, kept.classification) == ("comment", created.ticket, "loop"), kept.reason
    assert "TESSERA_MAIL_STORE_LOOPS" in kept.reason
    txn_id = desk.session.get(InboundMail, kept.inbound_id).transaction_id
    assert [o for o in outbox_for(desk, created.ticket) if o.transaction_id == txn_id] == []
    assert transactions(desk, created.ticket)[-1].id == txn_id
    assert desk.session.get(Transaction, txn_id).type == "Comment"
    assert _notices(desk) == []  # kept, not dropped
    # Without StoreLoops the same message is dropped, and the owner told.
    dropped = go(desk, echoed.replace(b"Message-ID: <", b"Message-ID: <again."), owner_email=OWNER)
    assert (dropped.action, dropped.classification) == ("dropped", "loop")
    assert len(_notices(desk)) == 1


def test_store_loops_with_no_ticket_named_still_drops(open_desk: Desk) -> None:
    outcome = go(open_desk, mail(X_Tessera_Loop_Prevention="Tessera"), store_loops=True)
    assert (outcome.action, outcome.classification) == ("dropped", "loop")
    assert "no ticket referenced" in outcome.reason


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "TESSERA_OWNER_EMAIL": "Owner@Admins.Example",
            "TESSERA_OWNER_NOTICES_PER_HOUR": "2",
            "TESSERA_MAIL_STORE_LOOPS": "1",
        }
    )
    assert (settings.owner_email, settings.owner_notices_per_hour, settings.store_loops) == (
        "Owner@admins.example",
        2,
        True,
    )
    assert Settings.from_env({}).owner_email is None and Settings.from_env({}).store_loops is False


def test_mailgate_refuses_bad_owner_settings_in_one_line(committed_desk: Desk, cli_env) -> None:
    for name, value, fragment in (
        (
            "TESSERA_OWNER_EMAIL",
            "not an address",
            "TESSERA_OWNER_EMAIL='not an address' is not an email address",
        ),
        ("TESSERA_OWNER_NOTICES_PER_HOUR", "many", "is not a number of messages"),
    ):
        result = run(["mailgate", "--queue", "General"], {**cli_env, name: value}, stdin=mail().decode())
        assert result.code == 75 and fragment in result.err and "Traceback" not in result.err, result


def test_mailgate_and_worker_deliver_the_owners_notice(open_desk: Desk, cli_env) -> None:
    server = SmtpServer(free_port()).start()
    try:
        env = {**cli_env, **smtp_env(server.port), "TESSERA_OWNER_EMAIL": OWNER}
        looped = mail(X_Tessera_Loop_Prevention="Tessera", subject="echo echo")
        filed = run(["mailgate", "--queue", "General", "--json"], env, stdin=looped.decode())
        assert filed.code == 0 and json.loads(filed.out)["action"] == "dropped", filed
        assert run(["worker", "--once"], env).code == 0
        [got] = server.wait_for(1)
    finally:
        server.stop()
    assert got.rcpt_tos == [OWNER]
    assert got.message["Subject"] == "A mail loop was dropped: echo echo"
    assert got.message["X-Tessera-Loop-Prevention"] == "Tessera"

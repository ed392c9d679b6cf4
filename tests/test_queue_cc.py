"""A queue's Cc as well as its AdminCc (issue 20, point 4), end to end through the real mail
gateway, CLI, worker and an SMTP sink, per RT's default scrips (rt-semantics 3.6 and 4.1):

* On Create Notify Ccs: with no requestor in that scrip's To, the queue's Cc are its To;
* On Correspond Notify Requestors and Ccs: the requestors are To, the queue's Cc are Cc;
* On Create / On Correspond Notify Owner and AdminCcs: the queue's AdminCc are Bcc (never shown);
* comments (On Comment Notify AdminCcs as Comment) and resolving (On Resolve Notify Requestors)
  never reach the queue's Cc.
A group as the queue's Cc reaches its members the same way."""

from __future__ import annotations

import json

import pytest

from tessera.core import grants, users
from tests.support.cli import run
from tests.support.desks import Desk
from tests.support.mail import mail, outbox_for
from tests.support.net import free_port
from tests.support.smtp import Received, SmtpServer, smtp_env

WATCHER = "watcher@partner.example"
LEAD = "lead@staff.example"
MANAGER = "mgr@staff.example"


@pytest.fixture
def smtp():
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


def _deliver(desk: Desk, env: dict[str, str], smtp: SmtpServer, ticket_id: int) -> list[Received]:
    sent = run(["worker", "--once"], env)
    assert sent.code == 0, sent
    desk.session.expire_all()
    expected = len(outbox_for(desk, ticket_id))
    got = smtp.wait_for(expected)
    assert len(got) == expected
    return got


def _to(received: Received) -> str:
    return str(received.message.get("To", "")).lower()


def _cc(received: Received) -> str:
    return str(received.message.get("Cc", "")).lower()


def test_queue_cc_gets_creates_and_replies_but_not_comments_or_resolves(
    committed_desk: Desk, cli_env, smtp
) -> None:
    desk = committed_desk
    grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
    users.add_user(desk.root, "mgr", email=MANAGER, privileged=True)
    users.add_group(desk.root, "Managers")
    users.set_membership(desk.root, "Managers", "mgr", member=True)
    desk.session.commit()
    env = {**cli_env, **smtp_env(smtp.port), "TESSERA_USER": "root"}
    for role, who in (("Cc", WATCHER), ("Cc", "group:Managers"), ("AdminCc", LEAD)):
        added = run(["queue", "watcher", "add", "General", role, who], env)
        assert added.code == 0, added

    # A new ticket from the mail gateway: the queue's Cc are To of "Notify Ccs", AdminCc a Bcc.
    filed = run(["mailgate", "--queue", "General", "--json"], env, stdin=mail().decode())
    assert filed.code == 0, filed
    ticket_id = json.loads(filed.out)["ticket"]
    got = _deliver(desk, env, smtp, ticket_id)
    to_watcher = [r for r in got if WATCHER in [a.lower() for a in r.rcpt_tos]]
    assert len(to_watcher) == 1 and WATCHER in _to(to_watcher[0])
    assert smtp.delivered_to(MANAGER) == 1 and smtp.delivered_to(LEAD) == 1
    assert all(LEAD not in _to(r) + _cc(r) for r in got), "the queue's AdminCc is a Bcc"

    # An agent's reply: to the requestor, the queue's Cc in Cc, the AdminCc in Bcc.
    before = len(got)
    replied = run(["ticket", "reply", str(ticket_id), "--body", "We are on it."], env)
    assert replied.code == 0, replied
    got = _deliver(desk, env, smtp, ticket_id)[before:]
    reply = next(r for r in got if "carla@customer.example" in [a.lower() for a in r.rcpt_tos])
    assert "carla@customer.example" in _to(reply) and WATCHER in _cc(reply) and MANAGER in _cc(reply)
    assert smtp.delivered_to(WATCHER) == 2 and smtp.delivered_to(MANAGER) == 2
    assert smtp.delivered_to(LEAD) == 2

    # A comment and resolving: nothing more for the queue's Cc (the AdminCc gets the comment).
    before += len(got)
    assert run(["ticket", "comment", str(ticket_id), "--body", "internal note"], env).code == 0
    assert run(["ticket", "set", str(ticket_id), "status=resolved"], env).code == 0
    _deliver(desk, env, smtp, ticket_id)
    assert smtp.delivered_to(WATCHER) == 2 and smtp.delivered_to(MANAGER) == 2
    assert smtp.delivered_to(LEAD) == 3
    assert smtp.delivered_to("carla@customer.example") == 3  # autoreply, reply, resolved

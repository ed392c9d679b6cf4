"""Groups as watchers (issue 20, point 4): a group as Cc or AdminCc of a ticket or of a queue, named
`group:NAME` as grants name principals. Its members receive the role's mail, expanded when the mail
is made (a disabled member skipped, a person once however many ways they watch, the NotifyActor
rule as for anyone), and TicketSQL finds the ticket by the group's name (`AdminCc.Name = 'Ops'`)
and, deep as RT's searches are, by a member. Through the real CLI, worker and SMTP sink, the API,
the gateway and the TUI's edit form."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Input

from tessera.core import grants, users, watchers
from tessera.core.errors import InvalidInput
from tessera.core.schemas import MessageIn
from tessera.core.search.service import search
from tessera.core.tickets import correspond
from tests.support.api import Api
from tests.support.cli import assert_one_line_error, run
from tests.support.desks import Desk
from tests.support.mail import mail, outbox_for
from tests.support.net import free_port
from tests.support.rights import AGENT_RIGHTS
from tests.support.smtp import SmtpServer, smtp_env
from tests.support.tui import FIXED_NOW, key, on_ticket, run_async, settle, until


@pytest.fixture
def smtp():
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


def _ops_group(desk: Desk) -> None:
    """Ops: alice, bob and carol (disabled); alice is also an agent who replies."""
    desk.agent("alice", *AGENT_RIGHTS)
    desk.agent("bob", *AGENT_RIGHTS)
    desk.agent("carol", *AGENT_RIGHTS)
    users.update_user(desk.root, "carol", {"disabled": "true"})
    users.add_group(desk.root, "Ops")
    for name in ("alice", "bob", "carol"):
        users.set_membership(desk.root, "Ops", name, member=True)
    desk.session.commit()


def _mailed(desk: Desk, ticket_id: int, txn_id: int) -> list[str]:
    """Every address the scrips wrote to for one transaction, one entry per message and address."""
    desk.session.expire_all()
    out: list[str] = []
    for row in outbox_for(desk, ticket_id):
        if row.transaction_id == txn_id:
            out += [a.lower() for a in row.recipients]
    return out


def test_a_group_as_ticket_admincc_mails_each_enabled_member_once_through_the_worker(
    committed_desk: Desk, cli_env, smtp
) -> None:
    desk = committed_desk
    _ops_group(desk)
    ticket = desk.ticket(requestors=["customer@example.com"], admincc=["bob@staff.example"])
    desk.session.commit()
    env = {**cli_env, **smtp_env(smtp.port), "TESSERA_USER": "root"}
    added = run(["ticket", "watcher", "add", str(ticket.id), "AdminCc", "group:Ops", "--json"], env)
    assert added.code == 0, added
    assert json.loads(added.out)["admincc"] == ["bob@staff.example", "group:Ops"]
    replied = run(["ticket", "reply", str(ticket.id), "--body", "On it.", "--user", "alice"], env)
    assert replied.code == 0, replied
    txn = int(replied.out.rsplit("transaction ", 1)[1].rstrip(")\n"))
    mailed = _mailed(desk, ticket.id, txn)
    assert mailed.count("bob@staff.example") == 1, "a direct AdminCc and a member: one message"
    assert "carol@staff.example" not in mailed, "a disabled member is skipped"
    assert "alice@staff.example" not in mailed, "the actor, as a member, is not told (NotifyActor)"
    sent = run(["worker", "--once"], env)
    assert sent.code == 0, sent
    expected = len(outbox_for(desk, ticket.id))
    got = smtp.wait_for(expected)
    assert len(got) == expected
    assert smtp.delivered_to("bob@staff.example") == 2  # the Create's notice and the reply's
    assert smtp.delivered_to("carol@staff.example") == 0
    # The history names the group; removing it stops the members' mail.
    shown = json.loads(run(["ticket", "show", str(ticket.id), "--history", "--json"], env).out)
    adds = [e for e in shown["history"] if e["type"] == "AddWatcher"]
    assert [(e["field"], e["new"]) for e in adds] == [("AdminCc", "group:Ops")]
    removed = run(["ticket", "watcher", "remove", str(ticket.id), "AdminCc", "group:ops"], env)
    assert removed.code == 0, removed
    txn = correspond(desk.as_("root"), ticket.id, MessageIn(body="later")).id
    desk.session.commit()
    assert "alice@staff.example" not in _mailed(desk, ticket.id, txn)


def test_a_group_as_queue_admincc_gets_mail_from_the_gateway(committed_desk: Desk, cli_env, smtp) -> None:
    desk = committed_desk
    _ops_group(desk)
    grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")  # a stranger may write in
    desk.session.commit()
    env = {**cli_env, **smtp_env(smtp.port), "TESSERA_USER": "root"}
    added = run(["queue", "watcher", "add", "General", "AdminCc", "group:Ops"], env)
    assert added.code == 0, added
    listed = json.loads(run(["queue", "watcher", "list", "General", "--json"], env).out)
    assert listed == [{"role": "AdminCc", "name": "group:Ops", "email": None}]
    filed = run(["mailgate", "--queue", "General", "--json"], env, stdin=mail().decode())
    assert filed.code == 0, filed
    ticket_id = json.loads(filed.out)["ticket"]
    assert ticket_id is not None, filed
    sent = run(["worker", "--once"], env)
    assert sent.code == 0, sent
    desk.session.expire_all()
    rows = outbox_for(desk, ticket_id)
    assert len(smtp.wait_for(len(rows))) == len(rows), [(r.recipients, r.status) for r in rows]
    assert smtp.delivered_to("alice@staff.example") == 1, [(r.recipients, r.summary) for r in rows]
    assert smtp.delivered_to("bob@staff.example") == 1
    assert smtp.delivered_to("carol@staff.example") == 0
    assert smtp.delivered_to("carla@customer.example") == 1  # the autoreply
    removed = run(["queue", "watcher", "remove", "General", "AdminCc", "group:Ops"], env)
    assert removed.code == 0, removed
    assert json.loads(run(["queue", "watcher", "list", "General", "--json"], env).out) == []


def test_ticketsql_finds_a_group_watcher_by_name_and_deep_by_member(desk: Desk) -> None:
    _ops_group(desk)
    watched = desk.ticket(subject="watched by Ops")
    other = desk.ticket(subject="nobody's")
    watchers.add_watcher(desk.root, watched.id, "AdminCc", "group:Ops")
    watchers.add_watcher(desk.root, other.id, "Cc", "dave@example.com")

    def ids(query: str) -> set[int]:
        return {t.id for t in search(desk.root, query)}

    assert ids("AdminCc.Name = 'Ops'") == {watched.id}
    assert ids("AdminCc.Name = 'ops'") == {watched.id}  # names compare without case
    assert ids("Watcher.Name = 'Ops'") == {watched.id}
    assert ids("AdminCc.Name LIKE 'op'") == {watched.id}
    assert ids("Cc.Name = 'Ops'") == set()  # only the role it holds
    assert ids("AdminCc.EmailAddress = 'bob@staff.example'") == {watched.id}  # deep: a member
    assert watched.id not in ids("AdminCc.Name != 'Ops'") and other.id in ids("AdminCc.Name != 'Ops'")
    assert watched.id in ids("AdminCc IS NOT NULL") and other.id in ids("AdminCc IS NULL")


def test_a_group_is_refused_as_requestor_and_an_unknown_one_in_one_line(
    committed_desk: Desk, cli_env
) -> None:
    desk = committed_desk
    users.add_group(desk.root, "Ops")
    ticket = desk.ticket()
    desk.session.commit()
    env = {**cli_env, "TESSERA_USER": "root"}
    assert_one_line_error(
        run(["ticket", "watcher", "add", str(ticket.id), "Requestor", "group:Ops"], env), "Cc or an AdminCc"
    )
    assert_one_line_error(
        run(["ticket", "watcher", "add", str(ticket.id), "Cc", "group:Nope"], env), "unknown group"
    )
    assert_one_line_error(
        run(["ticket", "watcher", "remove", str(ticket.id), "Cc", "group:Ops"], env), "is not a Cc"
    )
    with pytest.raises(InvalidInput):
        watchers.add_watcher(desk.root, ticket.id, "AdminCc", "group:")


def test_the_api_adds_and_removes_a_group_watcher(api: Api, database) -> None:
    from tessera.core.context import open_context

    with api.client(api.root) as client:
        made = client.post("/tickets", json={"queue": "General", "subject": "x", "body": "b"}).json()
        tid = made["id"]
        missing = client.post(f"/tickets/{tid}/watchers", json={"role": "AdminCc", "who": "group:Ops"})
        assert missing.status_code == 422 and "unknown group" in missing.json()["detail"]
    with database.session() as session:
        users.add_group(open_context(session, "root"), "Ops")
        session.commit()
    with api.client(api.root) as client:
        added = client.post(f"/tickets/{tid}/watchers", json={"role": "AdminCc", "who": "group:Ops"})
        assert added.status_code == 200, added.text
        assert added.json()["admincc"] == ["group:Ops"]
        assert client.get(f"/tickets/{tid}").json()["admincc"] == ["group:Ops"]
        gone = client.post(f"/tickets/{tid}/watchers/remove", json={"role": "AdminCc", "who": "group:Ops"})
        assert gone.status_code == 200 and gone.json()["admincc"] == []


@run_async
async def test_tui_edit_form_adds_a_group_and_removes_a_person(database, tui_desk) -> None:
    from tessera.core.context import open_context
    from tessera.core.serialize import ticket_json
    from tessera.core.tickets import get_ticket
    from tessera.tui.app import TesseraApp
    from tessera.tui.main_screen import MainScreen
    from tessera.tui.screens import EditScreen

    vpn = tui_desk["vpn"]
    with database.session() as session:
        root = open_context(session, "root")
        users.add_group(root, "Ops")
        watchers.add_watcher(root, vpn, "Cc", "boss@customer.example")
        session.commit()
    app = TesseraApp(lambda: database, user="alice", clock=lambda: FIXED_NOW)
    async with app.run_test(size=(140, 44)) as pilot:
        await on_ticket(pilot, vpn)
        await pilot.press(key("edit"))
        await until(pilot, lambda: isinstance(app.screen, EditScreen))
        cc = next(i for i in app.screen.query(Input) if i.name == "cc")
        assert cc.value == "boss@customer.example"
        cc.value = ""
        admincc = next(i for i in app.screen.query(Input) if i.name == "admincc")
        admincc.value = "group:Ops"
        await pilot.press(key("edit.save"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await settle(pilot)
    with database.session() as session:
        root = open_context(session, "root")
        shown = ticket_json(root, get_ticket(root, vpn))
        assert shown["admincc"] == ["group:Ops"] and shown["cc"] == []

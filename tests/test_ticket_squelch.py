"""Squelching for the ticket (issue 20, point 4; RT's SquelchMailTo): an agent squelches an address
on a ticket, recorded as a transaction, and no scrip mails that address about that ticket (from a
reply, a comment, a status change or mail received) until it is unsquelched; an agent's one-time
Cc still reaches it, as RT's Notify Other Recipients bypasses squelching. Through the real CLI,
mail gateway, worker and SMTP sink, the API and the TUI's edit form."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Input

from tessera.core import grants, users
from tessera.core.errors import PermissionDenied
from tessera.core.squelch import set_squelch
from tests.support.api import Api
from tests.support.cli import assert_one_line_error, run
from tests.support.desks import Desk
from tests.support.mail import mail, outbox_for
from tests.support.net import free_port
from tests.support.smtp import SmtpServer, smtp_env
from tests.support.tui import FIXED_NOW, key, on_ticket, run_async, settle, until

BOSS = "boss@customer.example"


@pytest.fixture
def smtp():
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


def _mailed_since(desk: Desk, ticket_id: int, after: int) -> list[str]:
    desk.session.expire_all()
    return [a.lower() for r in outbox_for(desk, ticket_id) if r.id > after for a in r.recipients]


def _last_outbox(desk: Desk, ticket_id: int) -> int:
    desk.session.expire_all()
    return max((r.id for r in outbox_for(desk, ticket_id)), default=0)


def test_a_squelched_address_gets_no_mail_about_the_ticket_until_unsquelched(
    committed_desk: Desk, cli_env, smtp
) -> None:
    desk = committed_desk
    grants.grant(desk.root, "ReplyToTicket", "role:Requestor", "General")
    ticket = desk.ticket(requestors=["carla@customer.example"], cc=[BOSS])
    desk.session.commit()
    env = {**cli_env, **smtp_env(smtp.port), "TESSERA_USER": "root"}
    done = run(["ticket", "squelch", str(ticket.id), "Boss@Customer.example", "--json"], env)
    assert done.code == 0, done
    assert json.loads(done.out)["squelched"] == [BOSS]
    start = _last_outbox(desk, ticket.id)
    before = _mailed_since(desk, ticket.id, 0).count(BOSS)  # the new ticket's notice, before the squelch
    # An agent's reply, a status change and the customer's mail through the gateway: none to Boss.
    assert run(["ticket", "reply", str(ticket.id), "--body", "Working on it."], env).code == 0
    assert run(["ticket", "set", str(ticket.id), "status=resolved"], env).code == 0
    answer = mail(subject=f"Re: [TKT-{ticket.id:04d}] Printer on fire", body="Thanks!", Cc=BOSS)
    filed = run(["mailgate", "--queue", "General", "--json"], env, stdin=answer.decode())
    assert filed.code == 0 and json.loads(filed.out)["ticket"] == ticket.id, filed
    mailed = _mailed_since(desk, ticket.id, start)
    assert "carla@customer.example" in mailed and BOSS not in mailed
    # An agent's one-time Cc is what they mean: it reaches a squelched address (as in RT).
    once = run(["ticket", "reply", str(ticket.id), "--body", "Copying you once.", "--cc", BOSS], env)
    assert once.code == 0, once
    assert _mailed_since(desk, ticket.id, start).count(BOSS) == 1
    sent = run(["worker", "--once"], env)
    assert sent.code == 0, sent
    smtp.wait_for(len(outbox_for(desk, ticket.id)))
    assert smtp.delivered_to(BOSS) == before + 1
    # Unsquelched: the next reply reaches Boss again; both changes are in the history.
    undone = run(["ticket", "squelch", str(ticket.id), BOSS, "--unsquelch"], env)
    assert undone.code == 0 and "unsquelched" in undone.out, undone
    middle = _last_outbox(desk, ticket.id)
    assert run(["ticket", "reply", str(ticket.id), "--body", "All yours again."], env).code == 0
    assert BOSS in _mailed_since(desk, ticket.id, middle)
    shown = json.loads(run(["ticket", "show", str(ticket.id), "--history", "--json"], env).out)
    marks = [(e["type"], e["old"], e["new"]) for e in shown["history"] if e["field"] == "SquelchMailTo"]
    assert marks == [("Squelch", None, BOSS), ("Unsquelch", BOSS, None)]
    assert shown["squelched"] == []


def test_squelch_refusals_are_one_line(committed_desk: Desk, cli_env) -> None:
    desk = committed_desk
    ticket = desk.ticket()
    users.add_user(desk.root, "carla", email="carla@customer.example", privileged=False)
    for right in ("ShowTicket", "ModifyTicket"):
        grants.grant(desk.root, right, "user:carla", "General")
    desk.session.commit()
    env = {**cli_env, "TESSERA_USER": "root"}
    assert_one_line_error(run(["ticket", "squelch", str(ticket.id), "not-an-address"], env), "malformed")
    assert_one_line_error(
        run(["ticket", "squelch", str(ticket.id), BOSS, "--user", "carla"], env), "only agents"
    )
    with pytest.raises(PermissionDenied):
        set_squelch(desk.as_("carla"), ticket.id, [BOSS])


def test_the_api_squelches_and_unsquelches(api: Api) -> None:
    with api.client(api.agent) as client:
        made = client.post("/tickets", json={"queue": "General", "subject": "x", "body": "b"}).json()
        tid = made["id"]
        on = client.post(f"/tickets/{tid}/squelch", json={"addresses": [BOSS]})
        assert on.status_code == 200, on.text
        assert on.json()["squelched"] == [BOSS] and client.get(f"/tickets/{tid}").json()["squelched"] == [
            BOSS
        ]
        off = client.post(f"/tickets/{tid}/squelch", json={"addresses": [BOSS], "squelched": False})
        assert off.status_code == 200 and off.json()["squelched"] == []
        bad = client.post(f"/tickets/{tid}/squelch", json={"addresses": ["nope"]})
        assert bad.status_code == 422 and "\n" not in bad.json()["detail"]


@run_async
async def test_tui_edit_form_squelches_an_address(database, tui_desk) -> None:
    from tessera.core.context import open_context
    from tessera.core.squelch import squelched_of
    from tessera.tui.app import TesseraApp
    from tessera.tui.main_screen import MainScreen
    from tessera.tui.screens import EditScreen

    vpn = tui_desk["vpn"]
    app = TesseraApp(lambda: database, user="alice", clock=lambda: FIXED_NOW)
    async with app.run_test(size=(140, 44)) as pilot:
        await on_ticket(pilot, vpn)
        await pilot.press(key("edit"))
        await until(pilot, lambda: isinstance(app.screen, EditScreen))
        field = next(i for i in app.screen.query(Input) if i.name == "squelched")
        assert field.value == ""
        field.value = "vpn@customer.example"
        await pilot.press(key("edit.save"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await settle(pilot)
    with database.session() as session:
        assert squelched_of(open_context(session, "root"), vpn) == ["vpn@customer.example"]

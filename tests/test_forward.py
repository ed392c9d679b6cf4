"""RT's Forward: a message of a ticket, or the whole ticket, sent on to people outside it, with the
agent's note. Through core with a real SMTP server, the real CLI and the real API; RT's
ForwardMessage right; comments stay with those who may read them."""

from __future__ import annotations

import pytest

from tessera.core.errors import InvalidInput, NotFound, PermissionDenied
from tessera.core.forwarding import forward
from tessera.core.schemas import ForwardIn, MessageIn
from tessera.core.serialize import history
from tessera.core.tickets import comment, correspond, get_ticket
from tessera.mail.delivery import SmtpSettings, deliver_due
from tests.support.api import Api
from tests.support.cli import assert_one_line_error, run
from tests.support.desks import Desk
from tests.support.mail import outbox_for
from tests.support.net import free_port
from tests.support.rights import AGENT_RIGHTS
from tests.support.smtp import SmtpServer, smtp_env
from tests.support.tui import FIXED_NOW, key, on_ticket, run_async, settle, type_text, until


def _conversation(desk: Desk):  # type: ignore[no-untyped-def]
    """A ticket with the customer's first message, an agent's reply and an internal comment."""
    ticket = desk.ticket(subject="Disk failure on db1", body="The disk in bay 3 clicks.")
    reply = correspond(desk.root, ticket.id, MessageIn(body="We have ordered a new disk."))
    note = comment(desk.root, ticket.id, MessageIn(body="internal: the vendor contract number is 4711"))
    return ticket, reply, note


def test_a_forwarded_message_reaches_the_vendor_with_the_note_and_the_message(
    committed_desk: Desk, database
) -> None:
    desk = committed_desk
    alice = desk.agent("alice", *AGENT_RIGHTS, "ForwardMessage")
    ticket, _, _ = _conversation(desk)
    first = history(desk.root, get_ticket(desk.root, ticket.id))[0]["id"]
    desk.session.commit()
    server = SmtpServer(free_port()).start()
    settings = SmtpSettings.from_env(smtp_env(server.port))
    try:
        deliver_due(database, settings)  # the conversation's own mail, out of the way
        server.wait_for(2)  # the autoreply and the reply, to the customer
        with server.lock:
            server.received.clear()
        data = ForwardIn(
            to=["support@vendor.example"], cc=["buyer@partner.example"], body="Please send a replacement.",
            transaction=first,
        )  # fmt: skip
        txn = forward(alice, ticket.id, data)
        desk.session.commit()
        deliver_due(database, settings)
        got = server.wait_for(1)
    finally:
        server.stop()
    assert txn.type == "Forward Transaction" and txn.data["forwarded"] == first
    assert len(got) == 1 and sorted(got[0].rcpt_tos) == ["buyer@partner.example", "support@vendor.example"]
    message = got[0].message
    assert message["Subject"].startswith("[TKT-") and "Fwd: Disk failure on db1" in message["Subject"]
    text = message.get_content()
    assert text.index("Please send a replacement.") < text.index("---------- Forwarded message ----------")
    assert "The disk in bay 3 clicks." in text and "From: root\r\n" in text  # root made the ticket
    assert "We have ordered" not in text, "one message, not the ticket"
    assert message["To"] == "support@vendor.example" and message["Cc"] == "buyer@partner.example"


def test_forwarding_the_ticket_sends_its_public_conversation_and_never_its_comments(desk: Desk) -> None:
    ticket, _, _ = _conversation(desk)
    txn = forward(desk.root, ticket.id, ForwardIn(to=["support@vendor.example"]))
    assert txn.type == "Forward Ticket"
    [row] = [r for r in outbox_for(desk, ticket.id) if r.transaction_id == txn.id]
    assert row.recipients == ["support@vendor.example"]
    assert f"This is a forward of ticket {ticket.display_id}." in row.message
    assert "The disk in bay 3 clicks." in row.message and "We have ordered a new disk." in row.message
    assert "4711" not in row.message


def test_forward_needs_the_right_and_a_readable_message_of_this_ticket(desk: Desk) -> None:
    ticket, reply, note = _conversation(desk)
    other = desk.ticket(subject="another")
    bob = desk.agent("bob", *AGENT_RIGHTS)  # no ForwardMessage
    with pytest.raises(PermissionDenied, match="ForwardMessage"):
        forward(bob, ticket.id, ForwardIn(to=["v@vendor.example"]))
    carol = desk.agent("carol", "ShowTicket", "SeeQueue", "ForwardMessage")  # may not read comments
    with pytest.raises(NotFound, match=f"{ticket.display_id} has no message #{note.id} to forward"):
        forward(carol, ticket.id, ForwardIn(to=["v@vendor.example"], transaction=note.id))
    forward(carol, ticket.id, ForwardIn(to=["v@vendor.example"], transaction=reply.id))  # a reply: fine
    other_first = history(desk.root, get_ticket(desk.root, other.id))[0]["id"]
    with pytest.raises(NotFound, match="has no message"):
        forward(desk.root, ticket.id, ForwardIn(to=["v@vendor.example"], transaction=other_first))
    with pytest.raises(InvalidInput, match="desk's own addresses"):
        forward(desk.root, ticket.id, ForwardIn(to=["help@desk.example"]))
    # and carol, who may not read comments, does not see forwards' notes and recipients either
    forward(desk.root, ticket.id, ForwardIn(to=["secret@vendor.example"], body="between us"))
    seen = history(carol, get_ticket(carol, ticket.id))
    last = [e for e in seen if e["type"] == "Forward Ticket"][-1]
    assert last["data"] is None and last["message"] == {"hidden": True, "reason": "needs ShowTicketComments"}


def test_cli_forward_answers_in_one_line_and_shows_in_the_history(committed_desk: Desk, cli_env) -> None:
    desk = committed_desk
    ticket, reply, _ = _conversation(desk)
    desk.session.commit()
    env = {**cli_env, "TESSERA_USER": "root"}
    done = run(
        ["ticket", "forward", str(ticket.id), "--to", "support@vendor.example",
         "--transaction", str(reply.id), "--body", "FYI"],
        env,
    )  # fmt: skip
    assert done.code == 0, done
    assert done.out.startswith(
        f"forwarded message #{reply.id} of {ticket.display_id} to support@vendor.example"
    )
    shown = run(["ticket", "show", str(ticket.id), "--history"], env)
    assert "Forward Transaction" in shown.out and "forwarded to support@vendor.example" in shown.out
    assert_one_line_error(
        run(["ticket", "forward", str(ticket.id), "--to", "not-an-address"], env), "not-an-address"
    )
    assert_one_line_error(
        run(
            ["ticket", "forward", str(ticket.id), "--to", "v@vendor.example", "--transaction", "999999"], env
        ),
        "has no message #999999",
    )
    missing_to = run(["ticket", "forward", str(ticket.id)], env)
    assert missing_to.code != 0 and "--to" in missing_to.err


def test_api_forward(api: Api) -> None:
    with api.client(api.root) as client:
        made = client.post(
            "/tickets", json={"queue": "General", "subject": "s", "requestors": ["c@x.example"], "body": "b"}
        )
        ticket_id = made.json()["id"]
        sent = client.post(f"/tickets/{ticket_id}/forward", json={"to": ["v@vendor.example"], "body": "FYI"})
        assert sent.status_code == 201, sent.text
        assert sent.json()["id"] == ticket_id
        bad = client.post(
            f"/tickets/{ticket_id}/forward", json={"to": ["v@vendor.example"], "transaction": 999999}
        )
        assert bad.status_code == 422 and "has no message #999999" in bad.json()["detail"], bad.text
        empty = client.post(f"/tickets/{ticket_id}/forward", json={"to": []})
        assert empty.status_code == 422, empty.text
        events = client.get(f"/tickets/{ticket_id}/transactions").json()
        assert any(e["type"] == "Forward Ticket" for e in events["transactions"])
    with api.client(api.agent) as client:  # the agent lacks ForwardMessage
        refused = client.post(f"/tickets/{ticket_id}/forward", json={"to": ["v@vendor.example"]})
        assert refused.status_code == 403, refused.text


@run_async
async def test_tui_forward_reviews_the_mail_then_records_the_forward(database, tui_desk) -> None:
    from tessera.core import grants
    from tessera.core.context import open_context
    from tessera.tui.app import TesseraApp
    from tessera.tui.main_screen import MainScreen
    from tessera.tui.review import ReviewScreen
    from tessera.tui.screens import ComposeScreen, PromptScreen

    with database.session() as session:
        grants.grant(open_context(session, "root"), "ForwardMessage", "user:alice")
    vpn = tui_desk["vpn"]
    app = TesseraApp(lambda: database, user="alice", clock=lambda: FIXED_NOW)
    async with app.run_test(size=(140, 40)) as pilot:
        await on_ticket(pilot, vpn)
        await pilot.press(key("forward"))
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await type_text(pilot, "noc@vendor.example")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert "noc@vendor.example" in str(app.screen.query_one("#compose-to").render())
        await type_text(pilot, "Can you check your side?")
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        review = str(app.screen.query_one("#review-message").render())
        plan = str(app.screen.query_one("#review-plan").render())
        assert "Forward to: noc@vendor.example" in review and "Can you check your side?" in review
        assert "Mail that would be queued" in plan and "noc@vendor.example" in plan
        assert _forwards(database, vpn) == []  # reviewed, nothing recorded yet
        await pilot.press(key("review.send"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await settle(pilot)
    forwards = _forwards(database, vpn)
    assert len(forwards) == 1 and forwards[0]["actor"] == "alice"
    assert forwards[0]["data"]["to"] == ["noc@vendor.example"]
    assert forwards[0]["message"]["content"] == "Can you check your side?"


def _forwards(database, ticket_id: int) -> list[dict]:  # type: ignore[no-untyped-def]
    from tessera.core.context import open_context

    with database.session() as session:
        root = open_context(session, "root")
        return [e for e in history(root, get_ticket(root, ticket_id)) if e["type"] == "Forward Ticket"]

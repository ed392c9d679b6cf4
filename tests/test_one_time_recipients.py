"""Sending to whom you mean (issue 20, point 4): one-time Cc and Bcc on a reply or comment (RT's
RT-Send-Cc/RT-Send-Bcc, set only by an agent), squelching for one message, and RT's NotifyActor
as a desk default, a user's preference and a scrip's AlwaysNotifyActor / NeverNotifyActor.
Through the real CLI and API, and through core for the notification rules."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tessera.core import users
from tessera.core.errors import InvalidInput, PermissionDenied
from tessera.core.schemas import MessageIn
from tessera.core.tickets import comment, correspond
from tests.support.api import Api
from tests.support.cli import assert_one_line_error, run
from tests.support.desks import Desk
from tests.support.mail import outbox_for
from tests.support.rights import AGENT_RIGHTS
from tests.support.tui import FIXED_NOW, key, on_ticket, run_async, settle, type_text, until


def _mailed(desk: Desk, ticket_id: int, txn_id: int) -> dict[str, set[str]]:
    """Who the scrips wrote to for one transaction: To, Cc and Bcc, lower-cased."""
    desk.session.expire_all()
    found: dict[str, set[str]] = {"to": set(), "cc": set(), "bcc": set()}
    for row in outbox_for(desk, ticket_id):
        if row.transaction_id == txn_id:
            for key in found:
                found[key] |= {a.lower() for a in row.summary[key]}
    return found


def _everyone(found: dict[str, set[str]]) -> set[str]:
    return found["to"] | found["cc"] | found["bcc"]


def _last_txn(cli_out: str) -> int:
    return int(cli_out.rsplit("transaction ", 1)[1].rstrip(")\n"))


def test_cli_reply_with_one_time_cc_bcc_and_squelch(committed_desk: Desk, cli_env) -> None:
    desk = committed_desk
    ticket = desk.ticket(requestors=["customer@example.com"], cc=["boss@customer.example"])
    desk.session.commit()
    env = {**cli_env, "TESSERA_USER": "root"}
    replied = run(
        ["ticket", "reply", str(ticket.id), "--body", "Quote attached.", "--cc", "sales@partner.example",
         "--bcc", "Audit@Partner.example", "--squelch", "boss@customer.example"],
        env,
    )  # fmt: skip
    assert replied.code == 0, replied
    found = _mailed(desk, ticket.id, _last_txn(replied.out))
    assert "sales@partner.example" in found["cc"] and "audit@partner.example" in found["bcc"]
    assert "customer@example.com" in found["to"]
    assert "boss@customer.example" not in _everyone(found), "squelched for this message"
    # Once only: the next reply goes to the ticket's people, and not to the one-time recipients.
    again = run(["ticket", "reply", str(ticket.id), "--body", "And again."], env)
    found = _mailed(desk, ticket.id, _last_txn(again.out))
    assert "boss@customer.example" in _everyone(found)
    assert not {"sales@partner.example", "audit@partner.example"} & _everyone(found)


def test_cli_comment_one_time_cc_comes_from_the_comment_address(committed_desk: Desk, cli_env) -> None:
    desk = committed_desk
    ticket = desk.ticket(requestors=["customer@example.com"])
    desk.session.commit()
    env = {**cli_env, "TESSERA_USER": "root"}
    noted = run(["ticket", "comment", str(ticket.id), "--body", "FYI", "--cc", "expert@partner.example"], env)
    assert noted.code == 0, noted
    txn = _last_txn(noted.out)
    rows = [r for r in outbox_for(desk, ticket.id) if r.transaction_id == txn]
    to_expert = [r for r in rows if "expert@partner.example" in r.recipients]
    assert len(to_expert) == 1 and to_expert[0].mail_from == "help-comment@desk.example"
    assert all("customer@example.com" not in r.recipients for r in rows), "a comment stays internal"


def test_cli_refusals_are_one_line(committed_desk: Desk, cli_env) -> None:
    desk = committed_desk
    ticket = desk.ticket(requestors=["customer@example.com"])
    desk.agent("una", *AGENT_RIGHTS, privileged=False)
    desk.session.commit()
    base = ["ticket", "reply", str(ticket.id), "--body", "x"]
    root = {**cli_env, "TESSERA_USER": "root"}
    assert_one_line_error(run([*base, "--cc", "not an address"], root), "not an address")
    assert_one_line_error(run([*base, "--bcc", "help@desk.example"], root), "one of the desk's own addresses")
    una = {**cli_env, "TESSERA_USER": "una"}
    assert_one_line_error(run([*base, "--cc", "x@partner.example"], una), "only agents")


def test_api_reply_with_one_time_cc(api: Api, database) -> None:
    with api.client(api.agent) as client:
        new = {"queue": "General", "subject": "s", "requestors": ["c@x.example"], "body": "b"}
        made = client.post("/tickets", json=new)
        assert made.status_code == 201, made.text
        ticket_id = made.json()["id"]
        reply = client.post(
            f"/tickets/{ticket_id}/reply",
            json={"body": "hello", "cc": ["partner@y.example"], "squelch": ["c@x.example"]},
        )
        assert reply.status_code == 201, reply.text
        bad = client.post(f"/tickets/{ticket_id}/reply", json={"body": "hello", "cc": ["nope"]})
        assert bad.status_code == 422 and "\n" not in bad.json()["detail"], bad.text
    with database.session() as session:
        desk = Desk(session=session, root=None)  # type: ignore[arg-type]
        rows = [r for r in outbox_for(desk, ticket_id) if "partner@y.example" in r.recipients]
        assert len(rows) == 1
        last = max(r.transaction_id or 0 for r in rows)
        assert all(
            "c@x.example" not in r.recipients for r in outbox_for(desk, ticket_id) if r.transaction_id == last
        )


def test_squelching_does_not_remove_a_one_time_recipient(desk: Desk) -> None:
    """RT: RT-Send-Cc/Bcc bypass squelching."""
    ticket = desk.ticket()
    txn = correspond(desk.root, ticket.id, MessageIn(body="x", cc=["p@y.example"], squelch=["p@y.example"]))
    assert "p@y.example" in _everyone(_mailed(desk, ticket.id, txn.id))


def test_core_refuses_one_time_recipients_from_a_non_agent(desk: Desk) -> None:
    ticket = desk.ticket()
    una = desk.agent("una", *AGENT_RIGHTS, privileged=False)
    for message in (
        MessageIn(body="x", cc=["a@y.example"]),
        MessageIn(body="x", squelch=["customer@example.com"]),
    ):
        with pytest.raises(PermissionDenied, match="only agents"):
            comment(una, ticket.id, message)
    with pytest.raises(InvalidInput, match="desk's own"):
        correspond(desk.root, ticket.id, MessageIn(body="x", cc=["HELP@desk.example"]))


@pytest.mark.parametrize(
    ("desk_default", "preference", "argument", "told"),
    [
        ("", None, "Owner,AdminCc", False),  # RT's default: not mailed one's own change
        ("1", None, "Owner,AdminCc", True),  # the desk's default on
        ("1", "no", "Owner,AdminCc", False),  # the user's preference wins over the desk's
        ("", "yes", "Owner,AdminCc", True),
        ("1", "yes", "Owner,AdminCc,NeverNotifyActor", False),  # the scrip's word wins over both
        ("", "no", "Owner,AdminCc,AlwaysNotifyActor", True),
    ],
)
def test_notify_actor_desk_default_preference_and_scrip_flags(
    desk: Desk,
    monkeypatch: pytest.MonkeyPatch,
    desk_default: str,
    preference: str | None,
    argument: str,
    told: bool,
) -> None:
    monkeypatch.setenv("TESSERA_NOTIFY_ACTOR", desk_default)
    alice = desk.agent("alice", *AGENT_RIGHTS)
    if preference is not None:
        users.update_user(alice, "alice", {"notify_actor": preference})  # a user's own setting
    scrip = desk.scrip("On Correspond Notify Owner and AdminCcs")
    scrip.action_argument = argument
    desk.session.commit()
    ticket = desk.ticket(admincc=["alice@staff.example", "lead@staff.example"])
    txn = correspond(desk.as_("alice"), ticket.id, MessageIn(body="done"))
    found = _everyone(_mailed(desk, ticket.id, txn.id))
    assert "lead@staff.example" in found
    assert ("alice@staff.example" in found) is told


@run_async
async def test_tui_composer_takes_a_one_time_cc_and_bcc_and_refuses_a_bad_one(database, tui_desk) -> None:
    from tessera.core.context import open_context
    from tessera.tui.app import TesseraApp
    from tessera.tui.main_screen import MainScreen
    from tessera.tui.review import ReviewScreen
    from tessera.tui.screens import ComposeScreen

    vpn = tui_desk["vpn"]
    app = TesseraApp(lambda: database, user="alice", clock=lambda: FIXED_NOW)
    async with app.run_test(size=(140, 40)) as pilot:
        await on_ticket(pilot, vpn)
        await pilot.press(key("reply_blank"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await type_text(pilot, "Fixed on our side.")
        app.screen.query_one("#compose-once-cc", Input).value = "netops@partner.example, not-an-address"
        await pilot.press(key("compose.send"))
        # a malformed address is one line, and the message is still there to fix it
        await until(pilot, lambda: any("not-an-address" in n.message for n in app._notifications))
        assert isinstance(app.screen, ComposeScreen) and "Fixed on our side." in app.screen.text
        app.screen.query_one("#compose-once-cc", Input).value = "netops@partner.example"
        app.screen.query_one("#compose-once-bcc", Input).value = "audit@partner.example"
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        review = str(app.screen.query_one("#review-message").render())
        plan = str(app.screen.query_one("#review-plan").render())
        assert "Once, Cc: netops@partner.example" in review and "Once, Bcc: audit@partner.example" in review
        assert "netops@partner.example" in plan and "audit@partner.example" in plan
        await pilot.press(key("review.send"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await settle(pilot)
    with database.session() as session:
        desk = Desk(session=session, root=open_context(session, "root"))
        reply_txn = max(r.transaction_id or 0 for r in outbox_for(desk, vpn))
        found = _mailed(desk, vpn, reply_txn)
        assert "netops@partner.example" in found["cc"] and "audit@partner.example" in found["bcc"]
        assert "vpn@customer.example" in found["to"]

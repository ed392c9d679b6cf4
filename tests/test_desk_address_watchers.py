"""The desk's own addresses never watch anything (issue 20, point 2; RT's IsRTAddress check).

A queue's correspond or comment address (of any queue) or the desk's fallback sender as a
Requestor, Cc or AdminCc would make the desk mail itself. Core refuses it on every path that adds a
watcher, so the CLI, the API and the TUI each give one clear line; the mail gateway leaves such
addresses out of a new ticket's Cc silently, as RT does."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from textual.widgets import Input

from tessera.core import grants, queues, users, watchers
from tessera.core.db import Database
from tessera.core.errors import InvalidInput
from tessera.core.models import User
from tessera.core.queue_watchers import add_queue_watcher, list_queue_watchers
from tessera.tui.admin.queues import QueueAdmin
from tessera.tui.backend import Backend
from tests.support.api import Api
from tests.support.cli import assert_one_line_error, run
from tests.support.desks import Desk
from tests.support.mail import go, mail
from tests.support.mail import watchers as watchers_of
from tests.support.tui import run_async, settle, until

REFUSAL = "one of the desk's own addresses"


def _no_user(desk: Desk, address: str) -> bool:
    return desk.session.scalar(select(func.count()).select_from(User).where(User.email == address)) == 0


@pytest.mark.parametrize("role", ["requestors", "cc", "admincc"])
@pytest.mark.parametrize("address", ["help@desk.example", "HELP-Comment@Desk.Example", "net@desk.example"])
def test_creating_a_ticket_with_a_desk_address_as_watcher_is_refused(
    desk: Desk, role: str, address: str
) -> None:
    queues.update_queue(desk.root, "Network", {"comment_address": "net@desk.example"})
    before = desk.session.scalar(select(func.count()).select_from(User))
    with pytest.raises(InvalidInput, match=REFUSAL) as refused:
        desk.ticket(**{role: ["customer@example.com", address] if role == "requestors" else [address]})
    assert "\n" not in refused.value.message
    desk.session.rollback()
    assert desk.session.scalar(select(func.count()).select_from(User)) == before, "no user made for it"


def test_the_fallback_sender_is_the_desks_too(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_MAIL_FROM", "robot@desk.example")
    with pytest.raises(InvalidInput, match="TESSERA_MAIL_FROM"):
        desk.ticket(cc=["Robot@Desk.Example"])


def test_adding_a_desk_address_or_a_user_who_has_one_is_refused(desk: Desk) -> None:
    ticket = desk.ticket()
    users.add_user(desk.root, "helpdesk", email="help@desk.example")  # an account with the queue's address
    for who in ("help@desk.example", "help-comment@desk.example", "helpdesk"):
        for role in ("Requestor", "Cc", "AdminCc"):
            with pytest.raises(InvalidInput, match=REFUSAL):
                watchers.add_watcher(desk.root, ticket.id, role, who)
    assert watchers.add_watcher(desk.root, ticket.id, "Cc", "boss@customer.example") is not None


def test_a_queue_cannot_watch_itself_or_another_queue(desk: Desk) -> None:
    for who in ("help@desk.example", "help-comment@desk.example"):
        for queue in ("General", "Network"):
            with pytest.raises(InvalidInput, match=REFUSAL):
                add_queue_watcher(desk.root, queue, "AdminCc", who)
    assert list_queue_watchers(desk.root, "General") == []


def test_no_two_queues_share_an_address(desk: Desk) -> None:
    """The mail gateway routes a recipient to the queue whose address it is: a second queue with
    the same address (any case, either role) made that an arbitrary pick of one of them."""
    for kwargs in ({"correspond_address": "HELP@desk.example"}, {"comment_address": "help@desk.example"}):
        with pytest.raises(InvalidInput, match="already another queue's"):
            queues.create_queue(desk.root, "Copy", **kwargs)
    queues.create_queue(desk.root, "Billing", correspond_address="billing@desk.example")
    with pytest.raises(InvalidInput, match="already another queue's"):
        queues.update_queue(desk.root, "Billing", {"comment_address": "help-comment@desk.example"})
    # A queue keeps its own address when it is set again.
    queues.update_queue(desk.root, "General", {"correspond_address": "help@desk.example"})
    assert queues.get_queue(desk.root, "Billing").comment_address is None


def test_mail_to_and_cc_desk_addresses_are_skipped_silently(committed_desk: Desk) -> None:
    desk = committed_desk
    grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
    queues.update_queue(desk.root, "Network", {"correspond_address": "net@desk.example"})
    outcome = go(
        desk,
        mail(
            to="help@desk.example, Net <NET@desk.example>",
            Cc="help-comment@desk.example, boss@customer.example",
        ),
        cc_watchers=True,  # (off by default: TESSERA_MAIL_CC_WATCHERS)
    )
    assert outcome.action == "create", outcome.reason
    assert watchers_of(desk, outcome.ticket, "Cc") == ["boss@customer.example"]
    assert _no_user(desk, "net@desk.example") and _no_user(desk, "NET@desk.example")


def test_cli_refuses_a_desk_address_as_watcher_in_one_line(committed_desk: Desk, cli_env) -> None:
    desk = committed_desk
    ticket = desk.ticket()
    desk.session.commit()
    env = {**cli_env, "TESSERA_USER": "root"}
    added = run(["ticket", "watcher", "add", str(ticket.id), "Cc", "help@desk.example"], env)
    assert_one_line_error(added, REFUSAL, "help@desk.example", "Cc")
    created = run(
        [
            "ticket",
            "create",
            "--queue",
            "General",
            "--subject",
            "x",
            "--admincc",
            "help-comment@desk.example",
        ],
        env,
        stdin="body",
    )
    assert_one_line_error(created, REFUSAL, "help-comment@desk.example", "AdminCc")
    desk.session.expire_all()
    assert watchers_of(desk, ticket.id, "Cc") == []
    assert _no_user(desk, "help-comment@desk.example")


def test_api_refuses_a_desk_address_as_watcher(api: Api) -> None:
    with api.client(api.agent) as client:
        reply = client.post(
            "/tickets", json={"queue": "General", "subject": "x", "cc": ["help@desk.example"], "body": "b"}
        )
    assert reply.status_code == 422, reply.text
    assert REFUSAL in reply.json()["detail"] and "\n" not in reply.json()["detail"]


@run_async
async def test_tui_queue_watcher_form_refuses_a_desk_address(database: Database, tui_desk) -> None:
    from tests.test_tui_admin_structure import Host, status_text, type_text

    app = Host(lambda: QueueAdmin(Backend(database, "root")))
    async with app.run_test(size=(140, 44)) as pilot:
        await settle(pilot)
        pane = app.query_one(QueueAdmin)
        await until(pilot, lambda: pane.current is not None and pane.current.name == "General")
        who = app.query_one("#q-watch-who", Input)
        who.focus()
        await type_text(pilot, "help@desk.example")
        await pilot.press("enter")
        await until(pilot, lambda: REFUSAL in status_text(app, "#q-status"))
        assert "help@desk.example" in status_text(app, "#q-status")
        assert "\n" not in status_text(app, "#q-status")
        assert pane.watchers == []

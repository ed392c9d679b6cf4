"""Reminders on tickets (RT's reminders): an owner and a due date, opened and resolved in the
lifecycle's reminder_on_open / reminder_on_resolve statuses, listed with the ticket in the CLI,
the API and the TUI, searchable with TicketSQL's Reminder fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tessera.core import reminders, tickets
from tessera.core.errors import NotFound, PermissionDenied
from tessera.core.lifecycles.store import apply_lifecycle
from tessera.core.listing import ticket_view
from tessera.core.queues import create_queue
from tessera.core.search.service import search
from tessera.core.serialize import history, ticket_json
from tessera.tui.ticket_pane import render_detail
from tests.support.api import Api
from tests.support.cli import assert_one_line_error, run
from tests.support.desks import Desk
from tests.support.rights import AGENT_RIGHTS


def test_a_reminder_opens_and_resolves_in_the_lifecycles_reminder_statuses(desk: Desk) -> None:
    apply_lifecycle(
        desk.root,
        "name: ops\ninitial: [new]\nactive: [working]\ninactive: [done, deleted]\n"
        "defaults: {on_create: new, reminder_on_open: working, reminder_on_resolve: done}\n"
        "transitions: {'': [new], new: [working, done], working: [done], done: [working]}\n",
    )
    create_queue(desk.root, "Ops", lifecycle="ops")
    ticket = desk.ticket(queue="Ops")
    due = datetime.now(UTC) + timedelta(days=2)
    made = reminders.add_reminder(desk.root, ticket.id, "Call the vendor", owner="root", due=due)
    assert made.status == "working"
    reminders.resolve_reminder(desk.root, ticket.id, made.id)
    listed = reminders.list_reminders(desk.root, ticket.id)
    assert listed[0]["status"] == "done" and listed[0]["resolved"]
    reminders.open_reminder(desk.root, ticket.id, made.id)
    assert reminders.list_reminders(desk.root, ticket.id)[0]["status"] == "working"
    kinds = [h["type"] for h in history(desk.root, tickets.get_ticket(desk.root, ticket.id))]
    assert kinds[-3:] == ["AddReminder", "ResolveReminder", "OpenReminder"]
    # the default lifecycle: RT's open / resolved
    other = desk.ticket()
    assert reminders.add_reminder(desk.root, other.id, "x").status == "open"


def test_owner_defaults_and_rights(desk: Desk) -> None:
    ticket = desk.ticket()
    alice = desk.agent("alice", *AGENT_RIGHTS)
    tickets.set_fields(desk.root, ticket.id, {"owner": "alice"})
    made = reminders.add_reminder(desk.root, ticket.id, "Check the backup")
    assert reminders.list_reminders(desk.root, ticket.id)[0]["owner"] == "alice"  # the ticket's owner
    viewer = desk.agent("vera", "ShowTicket", "SeeQueue")
    with pytest.raises(PermissionDenied, match="needs ModifyTicket"):
        reminders.add_reminder(viewer, ticket.id, "nope")
    with pytest.raises(PermissionDenied, match="needs ModifyTicket, or to own the reminder"):
        reminders.resolve_reminder(viewer, ticket.id, made.id)
    mine = reminders.add_reminder(desk.root, ticket.id, "for vera", owner="vera")
    assert reminders.resolve_reminder(viewer, ticket.id, mine.id) is not None  # her own
    assert reminders.resolve_reminder(alice, ticket.id, made.id) is not None
    with pytest.raises(NotFound, match="no reminder #999"):
        reminders.resolve_reminder(alice, ticket.id, 999)


def test_ticket_json_and_the_tui_pane_list_reminders(desk: Desk) -> None:
    ticket = desk.ticket()
    reminders.add_reminder(
        desk.root, ticket.id, "Order toner", owner="root", due=datetime(2030, 1, 2, tzinfo=UTC)
    )
    data = ticket_json(desk.root, tickets.get_ticket(desk.root, ticket.id))
    assert [(r["subject"], r["owner"], r["status"]) for r in data["reminders"]] == [
        ("Order toner", "root", "open")
    ]
    assert data["reminders"][0]["due"].startswith("2030-01-02")
    pane = render_detail(ticket_view(desk.root, ticket.id)).plain
    assert "Reminders" in pane and "Order toner" in pane and "[open]" in pane


def test_ticketsql_finds_tickets_by_their_reminders(desk: Desk) -> None:
    desk.agent("alice", *AGENT_RIGHTS)
    late, later, none = desk.ticket("late"), desk.ticket("later"), desk.ticket("none")
    now = datetime.now(UTC)
    reminders.add_reminder(desk.root, late.id, "chase", owner="alice", due=now - timedelta(days=1))
    done = reminders.add_reminder(desk.root, later.id, "renew", owner="root", due=now + timedelta(days=9))
    reminders.resolve_reminder(desk.root, later.id, done.id)

    def ids(query: str) -> set[int]:
        return {t.id for t in search(desk.root, query, limit=100)}

    assert ids("Reminder IS NOT NULL") == {late.id, later.id}
    assert none.id in ids("Reminder IS NULL")
    assert ids("Reminder.Owner = 'alice'") == {late.id}
    assert ids("Reminder.Due < 'today' AND Reminder.Status = 'open'") == {late.id}
    assert ids("Reminder.Status = 'resolved'") == {later.id}
    assert ids("Reminder.Subject LIKE 'chas'") == {late.id}


def test_reminders_through_the_cli_and_the_api(api: Api, cli_env) -> None:
    def cli(*args: str):
        return run(["--user", "root", *args], cli_env)

    made = json.loads(cli("ticket", "create", "-q", "General", "-s", "Renew cert", "--json").out)
    ticket = made["display_id"]
    added = cli("ticket", "reminder", "add", ticket, "--subject", "Renew by Friday", "--owner", "agent",
                "--due", "2030-05-01", "--json")  # fmt: skip
    assert added.code == 0, added.err
    reminder = json.loads(added.out)
    assert reminder["owner"] == "agent" and reminder["status"] == "open"
    listed = cli("ticket", "reminder", "list", ticket)
    assert f"#{reminder['id']}" in listed.out and "Renew by Friday" in listed.out
    shown = cli("ticket", "show", ticket)
    assert f"reminder #{reminder['id']} [open] Renew by Friday (owner agent" in shown.out
    resolved = cli("ticket", "reminder", "resolve", ticket, str(reminder["id"]))
    assert "now resolved" in resolved.out
    assert "already resolved" in cli("ticket", "reminder", "resolve", ticket, str(reminder["id"])).out
    assert_one_line_error(cli("ticket", "reminder", "resolve", ticket, "77"), "has no reminder #77")
    assert_one_line_error(cli("ticket", "reminder", "add", ticket, "--subject", " "), "needs a subject")
    found = json.loads(cli("search", "Reminder.Status = 'resolved'", "--json").out)
    assert [t["display_id"] for t in found] == [ticket]
    with api.client(api.agent) as http:
        body = http.get(f"/tickets/{made['id']}").json()
    assert [(r["subject"], r["status"]) for r in body["reminders"]] == [("Renew by Friday", "resolved")]


def test_reminders_follow_a_merged_ticket_into_the_survivor(desk: Desk) -> None:
    from tessera.core import links

    source, target = desk.ticket("dup"), desk.ticket("keeper")
    reminders.add_reminder(desk.root, source.id, "Call back", owner="root")
    links.merge(desk.root, source.id, target.id)
    assert [r["subject"] for r in reminders.list_reminders(desk.root, target.id)] == ["Call back"]
    assert reminders.list_reminders(desk.root, source.id)[0]["subject"] == "Call back"  # the old id resolves


def test_a_due_date_too_far_away_is_one_clear_error() -> None:
    from tessera.core.errors import InvalidInput
    from tessera.core.schemas import parse_datetime

    with pytest.raises(InvalidInput, match="too far away"):
        parse_datetime("in 99999999999 weeks", field="due")

"""A lifecycle action in one step (`tessera ticket action ID Resolve --body ...`), as RT's action
menu runs it: the update as a reply or comment and the status change in one transaction and one
scrip batch; and forcing past the dependency gate with the ForceStatus right."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tessera.core import links, tickets
from tessera.core.errors import PermissionDenied
from tessera.core.lifecycle_actions import run_action
from tessera.core.lifecycles.errors import TransitionForbidden, TransitionRefused
from tessera.core.models import Transaction
from tessera.core.schemas import MessageIn
from tests.support.cli import assert_one_line_error, run
from tests.support.desks import Desk
from tests.support.rights import AGENT_RIGHTS


@pytest.fixture
def cli(cli_env):
    assert run(["db", "upgrade"], cli_env).code == 0

    def tessera(*args: str, ok: bool = True):
        result = run(list(args), cli_env)
        if ok:
            assert result.code == 0, f"tessera {' '.join(args)}: {result.err}"
        return result

    tessera("queue", "set", "General", "correspond_address=help@desk.example")  # shipped with the desk
    tessera("right", "grant", "CreateTicket", "role:Everyone")
    return tessera


def _new(cli, subject: str = "VPN down") -> str:
    made = json.loads(
        cli(
            "ticket", "create", "-q", "General", "-s", subject, "-r", "ann@example.com", "-b", "hi", "--json"
        ).out
    )
    return made["display_id"]


def test_resolve_with_a_body_is_a_comment_and_a_status_change_in_one_transaction(cli) -> None:
    ticket = _new(cli)
    cli("ticket", "set", ticket, "status=open")
    done = cli("ticket", "action", ticket, "Resolve", "--body", "Fixed the tunnel")
    assert f"{ticket}: comment recorded" in done.out and "Resolve: status open -> resolved" in done.out
    shown = json.loads(cli("ticket", "show", ticket, "--history", "--json").out)
    assert shown["status"] == "resolved" and shown["resolved"]
    last_two = shown["history"][-2:]
    assert [t["type"] for t in last_two] == ["Comment", "Status"]  # RT's batch: [Comment, Status]
    assert last_two[0]["message"]["content"] == "Fixed the tunnel"
    assert last_two[0]["created"] == last_two[1]["created"]  # one unit of work, one clock


def test_an_action_whose_update_is_respond_sends_a_reply(cli) -> None:
    ticket = _new(cli)
    cli("ticket", "action", ticket, "open it", "--body", "Looking at it now")  # label in any case
    shown = json.loads(cli("ticket", "show", ticket, "--history", "--json").out)
    assert shown["status"] == "open"
    assert [t["type"] for t in shown["history"][-2:]] == ["Correspond", "Status"]
    # the reply's scrips ran in the same unit: the requestor is mailed
    outgoing = shown["history"][-2]["outgoing"]
    assert any(r["address"] == "ann@example.com" for m in outgoing for r in m["recipients"])


def test_comment_flag_overrides_and_a_quick_action_needs_no_body(cli) -> None:
    ticket = _new(cli)
    cli("ticket", "action", ticket, "Open It", "--comment", "--body", "internal note")
    cli("ticket", "action", ticket, "Stall")
    shown = json.loads(cli("ticket", "show", ticket, "--history", "--json").out)
    assert [t["type"] for t in shown["history"][-3:]] == ["Comment", "Status", "Status"]
    assert shown["status"] == "stalled"


def test_an_unknown_or_unoffered_action_is_one_line_and_changes_nothing(cli) -> None:
    ticket = _new(cli)
    before = json.loads(cli("ticket", "show", ticket, "--history", "--json").out)
    assert_one_line_error(
        cli("ticket", "action", ticket, "Resolv", "--body", "x", ok=False), "no action 'Resolv'", "Resolve"
    )
    assert_one_line_error(
        cli("ticket", "action", ticket, "Re-open", "--body", "x", ok=False), "offers", "from new"
    )
    after = json.loads(cli("ticket", "show", ticket, "--history", "--json").out)
    assert after["history"] == before["history"]


def test_the_dependency_gate_refuses_the_whole_action_and_force_needs_its_right(cli) -> None:
    blocked, blocker = _new(cli, "Blocked"), _new(cli, "Blocker")
    cli("ticket", "link", blocked, "DependsOn", blocker)
    cli("user", "add", "alice", "--email", "alice@desk.example")
    for right in AGENT_RIGHTS:
        cli("right", "grant", right, "user:alice")
    refused = cli("ticket", "action", blocked, "Resolve", "--body", "done", ok=False)
    assert_one_line_error(refused, "depends on unresolved", blocker, "ForceStatus")
    history = json.loads(cli("ticket", "show", blocked, "--history", "--json").out)["history"]
    assert [t["type"] for t in history][-1] != "Comment"  # nothing of the action was kept
    denied = cli("--user", "alice", "ticket", "action", blocked, "Resolve", "--force", ok=False)
    assert_one_line_error(denied, "alice may not force", "ForceStatus")
    denied = cli("--user", "alice", "ticket", "set", blocked, "status=resolved", "--force", ok=False)
    assert_one_line_error(denied, "ForceStatus")
    cli("right", "grant", "ForceStatus", "user:alice", "--queue", "General")
    cli("--user", "alice", "ticket", "action", blocked, "Resolve", "--body", "forced", "--force")
    shown = json.loads(cli("ticket", "show", blocked, "--history", "--json").out)
    assert shown["status"] == "resolved"
    assert shown["history"][-1]["data"]["forced_past"] == [blocker]


def test_core_run_action_is_one_unit_and_force_is_checked_in_core(desk: Desk) -> None:
    ticket, blocker = desk.ticket(), desk.ticket("Blocker")
    links.add_link(desk.root, ticket.id, "DependsOn", blocker.id)
    agent = desk.agent("alice", *AGENT_RIGHTS)
    before = desk.session.scalar(select(Transaction.id).order_by(Transaction.id.desc()).limit(1))
    with pytest.raises(TransitionRefused):
        run_action(agent, ticket.id, "Resolve", MessageIn(body="fixed"))
    with pytest.raises((TransitionForbidden, PermissionDenied)):
        run_action(agent, ticket.id, "Resolve", MessageIn(body="fixed"), force=True)
    after = desk.session.scalar(select(Transaction.id).order_by(Transaction.id.desc()).limit(1))
    assert after == before  # neither attempt left its comment behind
    version = tickets.get_ticket(desk.root, ticket.id).version
    done = run_action(desk.root, ticket.id, "Resolve", MessageIn(body="fixed"), force=True)
    assert done.message is not None and done.status is not None
    assert done.status.data["forced_past"] == [blocker.display_id]
    assert tickets.get_ticket(desk.root, ticket.id).version == version + 1  # one unit of work

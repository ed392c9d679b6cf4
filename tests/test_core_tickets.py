"""Ticket operations on a real PostgreSQL: each change recorded, each bad input refused whole."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tessera.core import customfields, links, ownership, tickets, watchers
from tessera.core.errors import InvalidInput, NotFound, PermissionDenied
from tessera.core.models import Attachment, Ticket, Transaction, User, display_id
from tessera.core.schemas import AttachmentIn, MessageIn, TicketCreate
from tessera.core.serialize import history, ticket_json
from tests.support.rights import AGENT_RIGHTS


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_display_id_grows_past_four_digits() -> None:
    assert display_id(1) == "TKT-0001"
    assert display_id(42) == "TKT-0042"
    assert display_id(123456) == "TKT-123456"


@pytest.mark.parametrize("ref", ["7", "TKT-0007", "tkt-7", "#7", " TKT0007 ", 7])
def test_ticket_refs(ref) -> None:
    assert tickets.parse_ref(ref) == 7


@pytest.mark.parametrize("ref", ["", "abc", "TKT-", "7x", "-3"])
def test_bad_ticket_refs(ref: str) -> None:
    with pytest.raises(InvalidInput, match="not a ticket id"):
        tickets.parse_ref(ref)


def test_create_records_everything(desk) -> None:
    customfields.create_field(desk.root, "Severity", type_="select", values=["Low", "High"])
    customfields.create_field(desk.root, "Tags", type_="freeform", multiple=True)
    t = tickets.create_ticket(
        desk.root,
        TicketCreate(
            queue="general",
            subject="Printer\non fire",
            requestors=["Ann <Ann@Customer.example>"],
            cc=["cc@customer.example"],
            admincc=["boss@desk.example"],
            priority=20,
            custom_fields={"severity": "high", "Tags": ["a", "b"]},
            message=MessageIn(
                body="It is on fire.",
                attachments=[
                    AttachmentIn(filename="photo.png", content_type="image/png", data=b"\x89PNG\x00")
                ],
            ),
        ),
    )
    data = ticket_json(desk.root, t)
    assert data["display_id"] == t.display_id
    assert data["queue"] == "General"
    assert data["subject"] == "Printer on fire"  # newlines stripped, as RT does
    assert data["status"] == "new"
    assert data["owner"] is None
    assert data["requestors"] == ["Ann@customer.example"]
    assert data["cc"] == ["cc@customer.example"]
    assert data["admincc"] == ["boss@desk.example"]
    assert data["priority"] == 20
    assert data["custom_fields"] == {"Severity": "High", "Tags": ["a", "b"]}
    for key in ("id", "created", "updated", "resolved", "custom_fields"):
        assert key in data
    ann = desk.session.scalars(select(User).where(User.email == "Ann@customer.example")).one()
    assert ann.privileged is False  # an unknown sender becomes an unprivileged requestor
    (create,) = history(desk.root, t)
    assert create["type"] == "Create" and create["actor"] == "root"
    assert create["message"]["content"] == "It is on fire."
    assert create["message"]["attachments"][0]["filename"] == "photo.png"
    stored = desk.session.scalars(select(Attachment).where(Attachment.filename == "photo.png")).one()
    assert stored.binary_content == b"\x89PNG\x00"


def test_a_text_file_holding_a_nul_byte_is_attached_as_its_bytes(desk) -> None:
    """A log with a NUL in it is a file like any other: kept byte for byte, not refused as
    'PostgreSQL text fields cannot contain NUL' (a text/* file was stored as text)."""
    from tessera.core.listing import attachment

    t = desk.ticket()
    log = b"boot ok\x00\x00 then garbage\n"
    part = AttachmentIn(filename="boot.log", content_type="text/plain", data=log)
    tickets.correspond(desk.root, t.id, MessageIn(body="the log", attachments=[part]))
    [shown] = next(h for h in history(desk.root, t) if h["type"] == "Correspond")["message"]["attachments"]
    assert (shown["filename"], shown["size"]) == ("boot.log", len(log))
    assert attachment(desk.root, shown["id"]).data == log


def test_create_directly_resolved_gets_dates(desk) -> None:
    t = desk.ticket(status="resolved")
    assert t.status == "resolved" and t.started is not None and t.resolved is not None


def test_a_due_date_without_a_zone_is_utc_in_the_ticket_made_as_when_read_back(desk) -> None:
    """The API's `"due": "2026-12-01T14:00:00"`: the database stores it as UTC, and the ticket the
    create answers with says the same (it said a time with no zone, unlike every later read)."""
    from datetime import datetime

    t = desk.ticket(due=datetime(2026, 12, 1, 14, 0), starts=datetime(2026, 11, 30, 9, 0))
    made = ticket_json(desk.root, t)
    assert (made["due"], made["starts"]) == ("2026-12-01T14:00:00Z", "2026-11-30T09:00:00Z")
    desk.session.expire_all()
    assert ticket_json(desk.root, tickets.get_ticket(desk.root, t.id))["due"] == made["due"]


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"queue": "Nope"}, NotFound, "unknown queue 'Nope'"),
        ({"custom_fields": {"Nope": "x"}}, NotFound, "unknown custom field 'Nope'"),
        ({"custom_fields": {"Severity": "Urgent"}}, InvalidInput, "not allowed for custom field 'Severity'"),
        ({"custom_fields": {"Severity": ["Low", "High"]}}, InvalidInput, "takes one value"),
        ({"custom_fields": {"Users": "many"}}, InvalidInput, "needs a whole number"),
        # beyond what `cf.Users+=1` sums and TicketSQL's `CF.Users > 5` compares: was stored, then
        # matched by no search and refused by every +=
        ({"custom_fields": {"Users": "99999999999999999999"}}, InvalidInput, "out of range"),
        ({"custom_fields": {"Asset": "laptop"}}, InvalidInput, "does not match"),
        ({"custom_fields": {"Since": "yesterday"}}, InvalidInput, "needs a date"),
        ({"status": "bogus"}, InvalidInput, "'bogus' is not a status"),
        ({"status": "deleted"}, InvalidInput, "deleted"),
        ({"owner": "ghost"}, NotFound, "unknown user 'ghost'"),
        ({"subject": "x" * 201}, InvalidInput, "at most 200"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(desk, kwargs, error, fragment) -> None:
    customfields.create_field(desk.root, "Severity", type_="select", values=["Low", "High"])
    customfields.create_field(desk.root, "Users", type_="integer")
    customfields.create_field(desk.root, "Asset", type_="freeform", pattern=r"(|[A-Z]{2}-\d{4})")
    customfields.create_field(desk.root, "Since", type_="date")
    before = (count(desk.session, Ticket), count(desk.session, Transaction), count(desk.session, User))
    with pytest.raises(error, match=fragment):
        desk.ticket(requestors=["brand-new@customer.example"], **kwargs)
    after = (count(desk.session, Ticket), count(desk.session, Transaction), count(desk.session, User))
    assert before == after


def test_malformed_email_is_refused_by_schema() -> None:
    from pydantic import ValidationError

    from tessera.core.schemas import pydantic_message

    with pytest.raises(ValidationError) as info:
        TicketCreate(queue="General", requestors=["not an address"])
    assert "malformed email address 'not an address'" in pydantic_message(info.value)


def test_owner_without_own_ticket_is_refused(desk) -> None:
    desk.agent("nora", "ShowTicket")
    with pytest.raises(PermissionDenied, match="nora may not own tickets in queue General"):
        desk.ticket(owner="nora")


def test_disabled_queue_refuses_tickets(desk) -> None:
    from tessera.core.queues import update_queue

    update_queue(desk.root, "Network", {"disabled": "yes"})
    with pytest.raises(InvalidInput, match="queue Network is disabled"):
        desk.ticket(queue="Network")


def test_correspond_and_comment(desk) -> None:
    t = desk.ticket()
    tickets.correspond(desk.root, t.id, MessageIn(body="Try water.", time_taken=15))
    tickets.comment(desk.root, t.display_id, MessageIn(body="Probably the fuser."))
    t = tickets.get_ticket(desk.root, t.id)
    assert t.time_worked == 15
    assert t.told is not None  # a reply from someone who is not a requestor
    kinds = [(h["type"], h["message"] and h["message"]["content"]) for h in history(desk.root, t)]
    assert kinds == [
        ("Create", "It is on fire."),
        ("Correspond", "Try water."),
        ("Status", None),  # the default scrip On Correspond Open Inactive Tickets: new -> open
        ("Comment", "Probably the fuser."),
    ]
    assert t.status == "open"


def test_empty_message_is_refused(desk) -> None:
    t = desk.ticket()
    with pytest.raises(InvalidInput, match="no message"):
        tickets.correspond(desk.root, t.id, MessageIn(body="   \n"))
    assert len(history(desk.root, t)) == 1


def test_comments_hidden_without_show_ticket_comments(desk) -> None:
    t = desk.ticket()
    tickets.comment(desk.root, t.id, MessageIn(body="internal only"))
    viewer = desk.agent("vic", "ShowTicket")
    entries = history(viewer, tickets.get_ticket(viewer, t.id))
    comment = next(e for e in entries if e["type"] == "Comment")
    assert comment["message"] == {"hidden": True, "reason": "needs ShowTicketComments"}


def test_set_fields_records_one_transaction_per_change(desk) -> None:
    t = desk.ticket()
    txns = tickets.set_fields(
        desk.root,
        t.id,
        {"subject": "Printer fixed?", "priority": "50", "due": "2026-12-24", "status": "open"},
    )
    assert sorted((x.type, x.field) for x in txns) == [
        ("Set", "Due"),
        ("Set", "Priority"),
        ("Set", "Subject"),
        ("Status", "Status"),
    ]
    t = tickets.get_ticket(desk.root, t.id)
    assert (t.subject, t.priority, t.status, t.due.date().isoformat()) == (
        "Printer fixed?",
        50,
        "open",
        "2026-12-24",
    )
    assert t.started is not None
    assert tickets.set_fields(desk.root, t.id, {"priority": "50"}) == []  # no change, no transaction


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"priority": "high"}, "priority: 'high' is not a whole number"),
        ({"due": "someday"}, "due: cannot read 'someday'"),
        ({"status": "bogus"}, "'bogus' is not a status"),
        ({"queue": "Nope"}, "unknown queue"),
        ({"owner": "ghost"}, "unknown user"),
        ({"cf.Nope": "x"}, "unknown custom field"),
    ],
)
def test_set_fields_is_all_or_nothing(desk, changes, fragment) -> None:
    t = desk.ticket()
    version = t.version
    with pytest.raises((InvalidInput, NotFound), match=fragment):
        tickets.set_fields(desk.root, t.id, {"subject": "changed", "priority": "9", **changes})
    desk.session.expire_all()
    t = tickets.get_ticket(desk.root, t.id)
    assert (t.subject, t.priority, t.version) == ("Printer on fire", 0, version)
    assert len(history(desk.root, t)) == 1


def test_parse_assignments() -> None:
    assert tickets.parse_assignments(["Status=open", "cf.Severity=High", "subject=a=b"]) == {
        "status": "open",
        "cf.Severity": "High",
        "subject": "a=b",
    }
    with pytest.raises(InvalidInput, match="expected FIELD=VALUE"):
        tickets.parse_assignments(["status"])


def test_status_dates_follow_rt(desk) -> None:
    t = desk.ticket()
    tickets.set_status(desk.root, t.id, "open")
    t = tickets.get_ticket(desk.root, t.id)
    started = t.started
    tickets.set_status(desk.root, t.id, "resolved")
    resolved = tickets.get_ticket(desk.root, t.id).resolved
    assert resolved is not None
    tickets.set_status(desk.root, t.id, "open")  # reopen keeps Resolved, Started is never moved
    t = tickets.get_ticket(desk.root, t.id)
    assert t.started == started and t.resolved == resolved


def test_custom_field_values_and_transaction(desk) -> None:
    customfields.create_field(desk.root, "Tags", type_="select", multiple=True, values=["vpn", "dns", "wifi"])
    t = desk.ticket()
    txn = tickets.set_custom_field_values(desk.root, t.id, "tags", ["VPN", "dns", "vpn"])
    assert (txn.type, txn.field, txn.old_value, txn.new_value) == ("CustomField", "Tags", None, "vpn, dns")
    assert tickets.set_custom_field_values(desk.root, t.id, "Tags", ["vpn", "dns"]) is None
    tickets.set_fields(desk.root, t.id, {"cf.Tags": "wifi"})
    assert ticket_json(desk.root, tickets.get_ticket(desk.root, t.id))["custom_fields"]["Tags"] == ["wifi"]


def test_queue_field_only_in_its_queue(desk) -> None:
    customfields.create_field(desk.root, "Circuit", queue="Network")
    t = desk.ticket()
    with pytest.raises(InvalidInput, match="does not apply to queue General"):
        tickets.set_custom_field_values(desk.root, t.id, "Circuit", ["C-1"])


def test_watchers(desk) -> None:
    t = desk.ticket()
    watchers.add_watcher(desk.root, t.id, "cc", "new-person@customer.example")
    assert watchers.add_watcher(desk.root, t.id, "Cc", "NEW-person@customer.example") is None
    watchers.add_watcher(desk.root, t.id, "AdminCc", "root")
    data = ticket_json(desk.root, tickets.get_ticket(desk.root, t.id))
    assert data["cc"] == ["new-person@customer.example"] and data["admincc"] == ["root"]
    watchers.remove_watcher(desk.root, t.id, "Cc", "new-person@customer.example")
    with pytest.raises(InvalidInput, match="is not a Cc"):
        watchers.remove_watcher(desk.root, t.id, "Cc", "new-person@customer.example")
    with pytest.raises(InvalidInput, match="unknown watcher role"):
        watchers.add_watcher(desk.root, t.id, "Boss", "root")
    types = [h["type"] for h in history(desk.root, t)]
    assert types == ["Create", "AddWatcher", "AddWatcher", "DelWatcher"]


def test_watch_yourself_needs_watch(desk) -> None:
    t = desk.ticket()
    sam = desk.agent("sam", "ShowTicket")
    with pytest.raises(PermissionDenied, match="needs Watch or ModifyTicket"):
        watchers.add_watcher(sam, t.id, "Cc", "sam")
    watchers.add_watcher(desk.root, t.id, "Cc", "root")
    desk.agent("wes", "ShowTicket", "Watch")
    assert watchers.add_watcher(desk.as_("wes"), t.id, "Cc", "wes") is not None
    with pytest.raises(PermissionDenied, match="needs ModifyTicket"):
        watchers.add_watcher(desk.as_("wes"), t.id, "Cc", "sam")


def test_links_both_ends_and_rules(desk) -> None:
    a, b, c = desk.ticket("A"), desk.ticket("B"), desk.ticket("C")
    links.add_link(desk.root, a.id, "DependsOn", b.id)
    assert links.add_link(desk.root, a.id, "dependson", b.display_id) is None  # existing: no new transaction
    links.add_link(desk.root, c.id, "HasMember", a.id)  # stored as A MemberOf C
    links.add_link(desk.root, b.id, "RefersTo", c.id)
    ja = ticket_json(desk.root, tickets.get_ticket(desk.root, a.id))["links"]
    assert ja["depends_on"] == [b.display_id] and ja["member_of"] == [c.display_id]
    jb = ticket_json(desk.root, tickets.get_ticket(desk.root, b.id))["links"]
    assert jb["depended_on_by"] == [a.display_id] and jb["refers_to"] == [c.display_id]
    with pytest.raises(InvalidInput, match="would make a loop"):
        links.add_link(desk.root, b.id, "DependsOn", a.id)
    with pytest.raises(InvalidInput, match="cannot link to itself"):
        links.add_link(desk.root, a.id, "RefersTo", a.id)
    with pytest.raises(InvalidInput, match="unknown link type"):
        links.add_link(desk.root, a.id, "Likes", b.id)
    b_types = [(h["type"], h["field"]) for h in history(desk.root, tickets.get_ticket(desk.root, b.id))]
    assert ("AddLink", "DependedOnBy") in b_types and ("AddLink", "RefersTo") in b_types
    links.remove_link(desk.root, b.id, "DependedOnBy", a.id)
    assert ticket_json(desk.root, tickets.get_ticket(desk.root, a.id))["links"]["depends_on"] == []
    with pytest.raises(InvalidInput, match="there is no link"):
        links.remove_link(desk.root, a.id, "DependsOn", b.id)


def test_unresolved_dependencies_block_resolve(desk) -> None:
    a, b = desk.ticket("A"), desk.ticket("B")
    links.add_link(desk.root, a.id, "DependsOn", b.id)
    with pytest.raises(InvalidInput, match="depends on unresolved"):
        tickets.set_status(desk.root, a.id, "resolved")
    tickets.set_status(desk.root, b.id, "resolved")
    tickets.set_status(desk.root, a.id, "resolved")


def test_merge_moves_history_watchers_links_and_time(desk) -> None:
    a = desk.ticket("Old", requestors=["ann@customer.example"], cc=["cc@customer.example"])
    b = desk.ticket("Survivor", requestors=["ben@customer.example"])
    c = desk.ticket("Other")
    tickets.correspond(desk.root, a.id, MessageIn(body="on A", time_taken=10))
    tickets.correspond(desk.root, b.id, MessageIn(body="on B", time_taken=5))
    links.add_link(desk.root, a.id, "RefersTo", c.id)
    links.merge(desk.root, a.id, b.id)
    survivor = tickets.get_ticket(desk.root, a.display_id)  # the old id resolves to the survivor
    assert survivor.id == b.id
    data = ticket_json(desk.root, survivor)
    assert sorted(data["requestors"]) == ["ann@customer.example", "ben@customer.example"]
    assert data["cc"] == ["cc@customer.example"]
    assert data["links"]["refers_to"] == [c.display_id]
    assert data["merged_from"] == [a.display_id]
    assert survivor.time_worked == 15
    bodies = [h["message"]["content"] for h in history(desk.root, survivor) if h["message"]]
    assert "on A" in bodies and "on B" in bodies
    assert history(desk.root, survivor)[-1]["type"] == "Merged"
    with pytest.raises(InvalidInput, match=f"{a.display_id} is already merged into {b.display_id}"):
        links.merge(desk.root, a.id, b.id)  # a now is b


def test_merge_chain_repoints(desk) -> None:
    a, b, c = desk.ticket("A"), desk.ticket("B"), desk.ticket("C")
    links.merge(desk.root, a.id, b.id)
    links.merge(desk.root, b.id, c.id)
    assert tickets.get_ticket(desk.root, a.id).id == c.id
    assert desk.session.get(Ticket, a.id).merged_into_id == c.id


def test_queue_move_needs_create_there_and_resets_owner(desk) -> None:
    from tessera.core import grants

    mover = desk.agent("max", *AGENT_RIGHTS, queue="General")
    t = desk.ticket()
    with pytest.raises(NotFound, match="unknown queue 'Network'"):  # a queue he may not know of
        tickets.set_fields(mover, t.id, {"queue": "Network"})
    grants.grant(desk.root, "SeeQueue", "user:max", "Network")
    with pytest.raises(PermissionDenied, match="needs CreateTicket"):
        tickets.set_fields(desk.as_("max"), t.id, {"queue": "Network"})
    grants.grant(desk.root, "CreateTicket", "user:max", "Network")
    grants.grant(desk.root, "ShowTicket", "user:max", "Network")
    ownership.take(desk.as_("max"), t.id)
    txns = tickets.set_fields(desk.as_("max"), t.id, {"queue": "network"})
    assert [(x.type, x.field) for x in txns] == [("Set", "Queue"), ("Untake", "Owner")]
    t = tickets.get_ticket(desk.root, t.id)
    assert t.queue.name == "Network" and t.owner_id is None


def test_unknown_ticket(desk) -> None:
    with pytest.raises(NotFound, match="no ticket TKT-9999"):
        tickets.get_ticket(desk.root, 9999)


def test_a_queues_required_fields_are_asked_of_every_create_but_a_message(committed_desk) -> None:
    """RT's mandatory field (its pattern refuses an empty value), enforced in core for the CLI, the
    API and the TUI alike (RT checks it in its web UI only); mail cannot carry fields, so a message
    still opens its ticket."""
    from tessera.core import grants
    from tests.support.mail import go, mail

    desk = committed_desk
    customfields.create_field(desk.root, "Ref", queue="General", pattern=r"^REF-[0-9]+$")
    customfields.create_field(desk.root, "Note", pattern=r"(|.{3,})")  # a format, not required
    before = count(desk.session, Ticket)
    for people in ({"requestors": ["a@customer.example"]}, {}):  # both ways core reads the queue
        with pytest.raises(
            InvalidInput, match=r"queue General requires Ref: give it \(CLI: --cf 'Ref=VALUE'"
        ):
            tickets.create_ticket(desk.root, TicketCreate(queue="General", subject="x", **people))
        with pytest.raises(InvalidInput, match="queue General requires Ref"):
            tickets.create_ticket(
                desk.root, TicketCreate(queue="General", subject="x", custom_fields={"Ref": " "}, **people)
            )
    assert count(desk.session, Ticket) == before
    made = tickets.create_ticket(
        desk.root,
        TicketCreate(
            queue="General", subject="x", requestors=["a@customer.example"], custom_fields={"ref": "REF-7"}
        ),
    )
    assert ticket_json(desk.root, made)["custom_fields"]["Ref"] == "REF-7"
    desk.ticket(queue="Network")  # the field is General's only

    grants.grant(desk.root, "CreateTicket", "role:Everyone", "General")
    outcome = go(desk, mail(subject="From the monitoring"))
    assert outcome.action == "create", outcome.reason


def test_an_edit_may_change_a_required_field_but_not_empty_it(committed_desk) -> None:
    """A queue's required field (asked of every create) stays filled: an edit that clears it is
    refused with one line naming the field, and nothing of that edit is written."""
    desk = committed_desk
    made = tickets.create_ticket(desk.root, TicketCreate(queue="General", subject="x"))
    customfields.create_field(desk.root, "Ref", queue="General", pattern=r"^REF-[0-9]+$")
    tickets.set_fields(desk.root, made.id, {"subject": "y"})  # still empty: other edits pass
    tickets.set_fields(desk.root, made.id, {"cf.Ref": "REF-1"})
    tickets.set_fields(desk.root, made.id, {"cf.Ref": "REF-2"})  # changed: fine
    for cleared in ("", " "):
        with pytest.raises(InvalidInput, match=r"^custom field 'Ref' is required: it may be changed but not"):
            tickets.set_fields(desk.root, made.id, {"subject": "z", "cf.Ref": cleared})
    data = ticket_json(desk.root, tickets.get_ticket(desk.root, made.id))
    assert data["custom_fields"]["Ref"] == "REF-2" and data["subject"] == "y"

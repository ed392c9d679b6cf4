"""TicketSQL on real tickets: a table of queries and their results, errors pointing into the query,
rights, saved searches and completion (fuzzing: test_search_fuzz; every field: test_search_fields)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tessera.core import customfields, grants, links, ownership, tickets, users
from tessera.core.context import open_context
from tessera.core.schemas import MessageIn
from tessera.core.search import service
from tessera.core.search.parser import SearchError


@pytest.fixture
def fixtures(desk):
    """Six tickets with known fields; returns the desk."""
    customfields.create_field(desk.root, "Severity", type_="select", values=["Low", "High"])
    customfields.create_field(desk.root, "Users", type_="integer")
    customfields.create_field(desk.root, "Asset Tag")
    customfields.create_field(desk.root, "Since", type_="date")
    users.add_user(desk.root, "alice", email="alice@desk.example")
    grants.grant(desk.root, "OwnTicket", "user:alice")
    made = {}
    made["vpn"] = desk.ticket(
        "VPN drops every 10 minutes",
        queue="Network",
        requestors=["ann@customer.example"],
        custom_fields={"Severity": "High", "Users": "40"},
        priority=80,
        body="The tunnel resets whenever I join a video call.",
    )
    made["printer"] = desk.ticket(
        "Printer on fire",
        requestors=["ben@customer.example"],
        cc=["cc@customer.example"],
        custom_fields={"Severity": "Low", "Asset Tag": "PR-1234"},
        priority=10,
    )
    made["percent"] = desk.ticket("Disk 100% full", requestors=["ann@customer.example"], priority=50)
    made["under"] = desk.ticket("rename user_name field", requestors=["carl@customer.example"])
    made["resolved"] = desk.ticket("Password reset", requestors=["dora@customer.example"], status="resolved")
    made["deleted"] = desk.ticket("Spam", requestors=["spam@spam.example"])
    tickets.set_status(desk.root, made["deleted"].id, "deleted")
    ownership.give(desk.root, made["vpn"].id, "alice")
    tickets.comment(desk.root, made["printer"].id, MessageIn(body="fuser replaced, secretword inside"))
    links.add_link(desk.root, made["vpn"].id, "DependsOn", made["printer"].id)
    merged = desk.ticket("Duplicate of printer")
    links.merge(desk.root, merged.id, made["printer"].id)
    desk.made = made
    return desk


def subjects(desk, query: str, order_by: str = "") -> list[str]:
    return [t.subject for t in service.search(desk.root, query, order_by)]


TABLE = [
    (
        "",
        {
            "VPN drops every 10 minutes",
            "Printer on fire",
            "Disk 100% full",
            "rename user_name field",
            "Password reset",
        },
    ),
    ("Queue = 'Network'", {"VPN drops every 10 minutes"}),
    ("queue = network", {"VPN drops every 10 minutes"}),
    (
        "Queue != 'Network' AND Status = 'new'",
        {"Printer on fire", "Disk 100% full", "rename user_name field"},
    ),
    ("Queue LIKE 'net'", {"VPN drops every 10 minutes"}),
    (
        "Status = '__Active__'",
        {"VPN drops every 10 minutes", "Printer on fire", "Disk 100% full", "rename user_name field"},
    ),
    ("Status = '__Inactive__'", {"Password reset"}),
    ("Status = 'deleted'", {"Spam"}),
    ("Status = resolved OR Status = deleted", {"Password reset", "Spam"}),
    ("Owner = 'alice'", {"VPN drops every 10 minutes"}),
    ("Owner = 'Nobody' AND Queue = 'Network'", set()),
    ("Owner != 'alice' AND Priority > 20", {"Disk 100% full"}),
    ("Owner = '__CurrentUser__'", set()),
    ("Owner LIKE 'ali'", {"VPN drops every 10 minutes"}),
    ("Creator = 'root' AND Priority >= 50", {"VPN drops every 10 minutes", "Disk 100% full"}),
    ("Requestor = 'ann@customer.example'", {"VPN drops every 10 minutes", "Disk 100% full"}),
    ("Requestor.EmailAddress LIKE 'ANN@'", {"VPN drops every 10 minutes", "Disk 100% full"}),
    (
        "Requestor.EmailAddress NOT LIKE 'ann'",
        {"Printer on fire", "rename user_name field", "Password reset"},
    ),
    ("Cc = 'cc@customer.example'", {"Printer on fire"}),
    ("Cc IS NOT NULL", {"Printer on fire"}),
    ("AdminCc IS NULL AND Queue = 'Network'", {"VPN drops every 10 minutes"}),
    ("Watcher = 'ben@customer.example'", {"Printer on fire"}),
    ("Subject LIKE 'printer'", {"Printer on fire"}),
    ("Subject = 'printer on fire'", {"Printer on fire"}),
    ("Subject NOT LIKE 'e'", {"Disk 100% full"}),
    ("Subject STARTSWITH 'vpn'", {"VPN drops every 10 minutes"}),
    ("Subject ENDSWITH 'FULL'", {"Disk 100% full"}),
    ("Subject LIKE '100%'", {"Disk 100% full"}),  # % matches itself, not anything
    ("Subject LIKE '0% f'", {"Disk 100% full"}),
    ("Subject LIKE 'P_inter'", set()),  # _ matches itself, not any one character
    ("Subject LIKE 'user_name'", {"rename user_name field"}),
    ("Content LIKE 'tunnel'", {"VPN drops every 10 minutes"}),
    ("Content = 'video calls'", {"VPN drops every 10 minutes"}),  # stemmed full text
    ("Content LIKE 'printer'", {"Printer on fire"}),  # subjects count as content too
    ("Content LIKE 'secretword'", {"Printer on fire"}),
    ("Priority = 80", {"VPN drops every 10 minutes"}),
    ("Priority < 20 AND Queue = 'General' AND Status = 'new'", {"Printer on fire", "rename user_name field"}),
    ("TimeWorked = 0 AND Priority > 60", {"VPN drops every 10 minutes"}),
    (
        "Created = 'today'",
        {
            "VPN drops every 10 minutes",
            "Printer on fire",
            "Disk 100% full",
            "rename user_name field",
            "Password reset",
        },
    ),
    ("Created < 'today'", set()),
    ("Created > '1 hour ago' AND Priority = 10", {"Printer on fire"}),
    ("Resolved IS NOT NULL", {"Password reset"}),
    ("Resolved IS NULL AND Priority = 10", {"Printer on fire"}),
    ("Due IS NULL AND Priority = 50", {"Disk 100% full"}),
    ("LastUpdated >= 'this week' AND Priority = 50", {"Disk 100% full"}),
    ("CF.Severity = 'high'", {"VPN drops every 10 minutes"}),
    (
        "CF.{Severity} != 'High'",
        {"Printer on fire", "Disk 100% full", "rename user_name field", "Password reset"},
    ),
    ("CF.Users > 39", {"VPN drops every 10 minutes"}),
    ("CF.Users < 39", set()),
    ("CF.{Asset Tag} LIKE 'pr-'", {"Printer on fire"}),
    ("'CF.{Asset Tag}' IS NULL AND Priority = 10", set()),
    ("CF.Severity IS NULL", {"Disk 100% full", "rename user_name field", "Password reset"}),
    ("DependsOn IS NOT NULL", {"VPN drops every 10 minutes"}),
    ("DependedOnBy IS NOT NULL", {"Printer on fire"}),
    ("Priority = 10 OR Priority = 50 AND Queue = 'Network'", {"Printer on fire"}),  # AND binds tighter
    ("(Priority = 10 OR Priority = 50) AND Queue = 'General'", {"Printer on fire", "Disk 100% full"}),
]


@pytest.mark.parametrize("query, expected", TABLE, ids=[q or "(empty)" for q, _ in TABLE])
def test_query_table(fixtures, query: str, expected: set[str]) -> None:
    assert set(subjects(fixtures, query)) == expected
    assert service.count(fixtures.root, query) == len(expected)


def test_ids_links_and_merged(fixtures) -> None:
    made = fixtures.made
    assert subjects(fixtures, f"id = {made['vpn'].id}") == ["VPN drops every 10 minutes"]
    assert subjects(fixtures, f"id = '{made['vpn'].display_id}'") == ["VPN drops every 10 minutes"]
    assert subjects(fixtures, f"DependsOn = {made['printer'].id}") == ["VPN drops every 10 minutes"]
    assert "Duplicate of printer" not in subjects(fixtures, "Subject LIKE 'printer'")  # merged: hidden


def test_order_by(fixtures) -> None:
    assert subjects(fixtures, "Status = '__Active__'", "Priority DESC") == [
        "VPN drops every 10 minutes",
        "Disk 100% full",
        "Printer on fire",
        "rename user_name field",
    ]
    by_queue = subjects(fixtures, "Status = '__Active__'", "Queue DESC, -Priority")
    assert by_queue[0] == "VPN drops every 10 minutes"  # Network sorts after General
    assert subjects(fixtures, "Status = '__Active__'", "Owner|Subject")[0] == "VPN drops every 10 minutes"


@pytest.mark.parametrize(
    "query, fragment",
    [
        ("Statsu = 'open'", "unknown field 'Statsu' at column 1 - did you mean Status?"),
        ("Status = 'opne'", "unknown status 'opne' at column 10 - did you mean open?"),
        ("Queue = 'Netwrk'", "unknown queue 'Netwrk' at column 9 - did you mean Network?"),
        ("Owner = 'alcie'", "unknown user 'alcie' at column 9 - did you mean alice?"),
        ("CF.Severty = 'High'", "unknown custom field 'Severty' at column 1 - did you mean Severity?"),
        ("Status = ", "query ends too early: expected a value"),
        ("Status = 'open' AND", "query ends too early"),
        ("(Status = 'open'", "expected ')'"),
        ("Status = 'open')", "unexpected ')' at column 16"),
        ("Status 'open'", "unexpected \"'open'\" at column 8: expected an operator"),
        ("Subject = 'unclosed", "unclosed quote"),
        ("Priority = 'Hihg'", "Priority: unknown priority 'Hihg' at column 12 - did you mean High?"),
        ("Priority > 'urgent'", "unknown priority 'urgent' at column 12 (names: Low, Medium, High)"),
        ("Priority = 'High' OR id = '__Bookmarked__x'", "id needs a ticket number"),
        ("id > '__Bookmarked__'", "__Bookmarked__ works with = and != only at column 1"),
        ("Due < Nonsense", "Due: cannot read 'Nonsense' as a date"),
        ("Priority LIKE 5", "operator LIKE does not apply to Priority"),
        ("Created = 'the other day'", "cannot read 'the other day' as a date"),
        ("Subject = NULL", "use Subject IS NULL"),
        ("Requestor.Phone = 'x'", "sub-fields"),
        ("CF.Users = 'many'", "needs a whole number"),
        ("Queue IS NULL", "IS NULL does not apply to Queue"),
        ("Subject < 'a'", "operator < does not apply to Subject"),
        ("Priority > 99999999999", "99999999999 is out of range at column 12"),
        ("id = 3000000000", "is out of range at column 6"),
        ("CF.Users > 99999999999", "out of range"),
        ("CF.Users LIKE '4'", "operator LIKE does not apply"),
        ("CF.Since = 'soonish'", "cannot read 'soonish' as a date"),
        ("Created = '9999-12-31'", "cannot read '9999-12-31' as a date"),
        ("Created > '99999999999 years ago'", "as a date"),
        ("Owner.Phone = 'x'", "sub-fields"),
        ("Status = 'open' OR OR", "unexpected 'OR' at column 20: expected a field or '('"),
        ("Status = 'open' Queue = 'General'", "unexpected 'Queue' at column 17: expected AND or OR"),
        ("Status ~ 'open'", "unexpected '~' at column 8: expected an operator"),
        ("Status = 'open' ORDER BY", "query ends too early: expected a field"),
        ("Status = 'open' ORDER BY Colour", "cannot order by 'Colour'"),
        ("DependsOn > 3", "operator > does not apply to DependsOn"),
        ("MergedInto = 'soon'", "MergedInto needs a ticket number"),
    ],
)
def test_errors_point_into_the_query(fixtures, query: str, fragment: str) -> None:
    """Each refusal says what and where, on one line."""
    from tessera.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as info:
        service.search(fixtures.root, query)
    assert fragment in info.value.message
    assert "\n" not in info.value.message


def test_an_error_in_a_callers_filter_names_no_column_of_a_query_nobody_typed(fixtures) -> None:
    """The API's `?queue=Nope` is compiled as `Queue = 'Nope'` beside the user's query: its error
    names the queue, not "column 9" of text the user never saw; the user's query keeps its column."""
    with pytest.raises(SearchError) as info:
        service.search(fixtures.root, "Status = 'open'", also="Queue = 'Nope'")
    assert "unknown queue 'Nope'" in info.value.message and "column" not in info.value.message
    with pytest.raises(SearchError, match="at column 1"):
        service.search(fixtures.root, "Statsu = 'open'", also="Queue = 'General'")


def test_bad_order_and_limit(fixtures) -> None:
    from tessera.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="cannot order by 'Priorty' - did you mean priority"):
        service.search(fixtures.root, "", "Priorty")
    with pytest.raises(InvalidInput, match="limit must be between"):
        service.search(fixtures.root, "", limit=0)


def test_rights_hide_tickets_and_counts(fixtures) -> None:
    fixtures.agent("nick", "ShowTicket", queue="Network")
    nick = open_context(fixtures.session, "nick")
    assert [t.subject for t in service.search(nick, "")] == ["VPN drops every 10 minutes"]
    assert service.count(nick, "Subject LIKE 'printer'") == 0
    assert service.count(nick, "Content LIKE 'secretword'") == 0
    # A requestor who may see their own tickets through the Requestor role sees exactly those.
    grants.grant(fixtures.root, "ShowTicket", "role:Requestor")
    ann = open_context(fixtures.session, "ann@customer.example")
    assert set(t.subject for t in service.search(ann, "")) == {"VPN drops every 10 minutes", "Disk 100% full"}
    # Comments are searchable only by those who may read them.
    grants.grant(fixtures.root, "ShowTicket", "user:nick")
    assert service.count(open_context(fixtures.session, "nick"), "Content LIKE 'secretword'") == 0
    grants.grant(fixtures.root, "ShowTicketComments", "user:nick")
    assert service.count(open_context(fixtures.session, "nick"), "Content LIKE 'secretword'") == 1


def test_saved_searches(fixtures) -> None:
    service.save_search(fixtures.root, "hot", "Priority > 60", "Priority DESC")
    service.save_search(fixtures.root, "team", "Status = '__Active__'", shared=True)
    fixtures.agent("pat", "ShowTicket")
    pat = open_context(fixtures.session, "pat")
    assert [s.name for s in service.list_saved(pat)] == ["team"]
    assert [s.name for s in service.list_saved(fixtures.root)] == ["hot", "team"]
    saved = service.get_saved(fixtures.root, "HOT")
    assert [t.subject for t in service.search(fixtures.root, saved.query, saved.order_by)] == [
        "VPN drops every 10 minutes"
    ]
    with pytest.raises(SearchError):
        service.save_search(fixtures.root, "broken", "Statsu = 1")
    service.delete_saved(fixtures.root, "hot")
    assert [s.name for s in service.list_saved(fixtures.root)] == ["team"]


def test_completion(fixtures) -> None:
    ctx = fixtures.root
    assert "Status" in service.complete(ctx, "Sta")
    assert "CF.{Asset Tag}" in service.complete(ctx, "Queue = 'General' AND CF")
    assert service.complete(ctx, "Status ")[:2] == ["=", "!="]
    assert "'Network'" in service.complete(ctx, "Queue = ")
    assert "'__Active__'" in service.complete(ctx, "Status = '__")
    assert "'alice'" in service.complete(ctx, "Owner = al")
    assert service.complete(ctx, "CF.Severity = ") == ["'Low'", "'High'"]
    assert service.complete(ctx, "Priority = ") == ["'Low'", "'Medium'", "'High'"]  # RT's names
    assert service.complete(ctx, "FinalPriority >= 'h") == ["'High'"]
    assert service.complete(ctx, "id = '__B") == ["'__Bookmarked__'"]
    assert service.complete(ctx, "Status = 'open' ") == ["AND", "OR", "ORDER BY"]
    assert service.complete(ctx, "Status = 'open' ORDER BY Pri") == ["Priority"]
    # Multi-word operators continue; IS NULL is a whole test.
    assert service.complete(ctx, "Subject NOT ") == ["LIKE"]
    assert service.complete(ctx, "Due IS ") == ["NULL", "NOT NULL"]
    assert service.complete(ctx, "Due IS NOT NULL ") == ["AND", "OR", "ORDER BY"]
    # Custom fields in every spelling; a freeform field offers the values in use.
    assert service.complete(ctx, "'CF.{Severity}' = 'h") == ["'High'"]
    assert service.complete(ctx, "CF.{Asset Tag} = 'pr") == ["'PR-1234'"]
    assert service.complete(ctx, "Requestor.EmailAddress LIKE 'ann") == ["'ann@customer.example'"]
    assert service.complete(ctx, "Owner.EmailAddress = 'ali") == ["'alice@desk.example'"]
    # What a suggestion replaces: the whole token, spaces and all.
    from tessera.core.search.completion import partial_start

    for typed, word in [
        ("CF.{Asset T", "CF.{Asset T"),
        ("Created > 'last we", "'last we"),
        ("Status = ", ""),
        ("(Sta", "Sta"),
        ("Status != op", "op"),
    ]:
        assert typed[partial_start(typed) :] == word
    # A requestor is offered only their own address, never other people's.
    ann = open_context(fixtures.session, "ann@customer.example")
    assert service.complete(ann, "Requestor = ") == ["'__CurrentUser__'", "'ann@customer.example'"]


def test_dates_cover_whole_days() -> None:
    from tessera.core.search.dates import date_range

    now = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
    assert date_range("2026-11-20", now) == (
        datetime(2026, 11, 20, tzinfo=UTC),
        datetime(2026, 11, 21, tzinfo=UTC),
    )
    assert date_range("yesterday", now)[0] == datetime(2026, 11, 26, tzinfo=UTC)
    assert date_range("2 days ago", now) == (now - timedelta(days=2),) * 2
    assert date_range("last week", now) == (
        datetime(2026, 11, 16, tzinfo=UTC),
        datetime(2026, 11, 23, tzinfo=UTC),
    )
    assert date_range("nonsense", now) is None

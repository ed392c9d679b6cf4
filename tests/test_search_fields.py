"""Every TicketSQL field with each operator that applies to it, on tickets with known answers.

Four live tickets (A-D) plus a deleted one (E) and one merged into B (F). Dates are placed on
whole days relative to now (yesterday noon, a day of last week), so relative dates have fixed
answers whatever day the suite runs.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import text

from tessera.core import customfields, grants, links, ownership, tickets
from tessera.core.context import open_context
from tessera.core.models import Ticket
from tessera.core.schemas import MessageIn, TicketCreate
from tessera.core.search import service
from tessera.core.search.parser import SearchError
from tests.support.rights import AGENT_RIGHTS

NOW = datetime.now(UTC)
TODAY = NOW.date()
YESTERDAY_NOON = datetime.combine(TODAY - timedelta(days=1), time(12), tzinfo=UTC)
LAST_WEEK_TUESDAY = datetime.combine(
    TODAY - timedelta(days=TODAY.weekday() + 6), time(12), tzinfo=UTC
)  # Tuesday of last week: always 6 to 12 days ago
TOMORROW_NOON = datetime.combine(TODAY + timedelta(days=1), time(12), tzinfo=UTC)


@pytest.fixture
def tk(desk):
    """Tickets A-F (see the module docstring); returns desk with `ids` (letter -> id)."""
    customfields.create_field(desk.root, "Severity", type_="select", values=["Low", "High"])
    customfields.create_field(desk.root, "Users", type_="integer")
    customfields.create_field(desk.root, "Asset Tag")
    customfields.create_field(desk.root, "Since", type_="date")
    desk.agent("alice", *AGENT_RIGHTS)
    desk.agent("bob", *AGENT_RIGHTS)
    grants.grant(desk.root, "ShowTicket", "user:alice")  # globally too
    a = desk.ticket(
        "Alpha router down",
        queue="Network",
        requestors=["ann@cust.example"],
        cc=["carl@cust.example"],
        admincc=["boss@desk.example"],
        priority=80,
        due=TOMORROW_NOON,
        custom_fields={"Severity": "High", "Users": "40", "Asset Tag": "AT-7_x", "Since": "2026-01-15"},
        body="The uplink flaps after the firmware upgrade.",
    )
    b = desk.ticket(
        "Beta printer jam",
        requestors=["ben@cust.example"],
        priority=10,
        due=YESTERDAY_NOON,
        custom_fields={"Severity": "Low"},
        status="open",
    )
    c = desk.ticket("Gamma 100% disk_full", requestors=["ann@cust.example"], priority=50, status="resolved")
    d = tickets.create_ticket(
        desk.as_("alice"),
        TicketCreate(queue="General", subject="Delta badge", status="open", message=MessageIn(body="x")),
    )
    tickets.set_status(desk.root, d.id, "stalled")
    e = desk.ticket("Spam offer", requestors=["spam@spam.example"])
    tickets.set_status(desk.root, e.id, "deleted")
    f = desk.ticket("Duplicate printer", requestors=["ben@cust.example"])
    links.merge(desk.root, f.id, b.id)
    ownership.give(desk.root, a.id, "alice")
    ownership.give(desk.root, d.id, "bob")
    tickets.set_fields(desk.root, b.id, {"time_worked": "30"})
    tickets.comment(desk.root, b.id, MessageIn(body="toner smudged, hushword here"))
    links.add_link(desk.root, a.id, "DependsOn", b.id)
    links.add_link(desk.root, a.id, "RefersTo", c.id)
    links.add_link(desk.root, d.id, "MemberOf", a.id)
    # History that no operation can write: when C and D were created and last touched.
    for ticket, when in ((c, LAST_WEEK_TUESDAY), (d, YESTERDAY_NOON)):
        row = desk.session.get(Ticket, ticket.id)
        row.created = row.updated = when
    desk.session.flush()
    desk.ids = {"A": a.id, "B": b.id, "C": c.id, "D": d.id, "E": e.id, "F": f.id}
    return desk


ALL = "ABCD"


def found(desk, query: str, ctx=None) -> str:
    """The letters of the matching tickets, sorted: 'AC'."""
    by_id = {v: k for k, v in desk.ids.items()}
    rows = service.search(ctx or desk.root, query, limit=100)
    return "".join(sorted(by_id[t.id] for t in rows))


def but(*letters: str) -> str:
    return "".join(x for x in ALL if x not in "".join(letters))


TABLE: list[tuple[str, str]] = [
    # id: every comparison
    ("id = <A>", "A"),
    ("id != <A>", but("A")),
    ("id < <B>", "A"),
    ("id > <C>", "D"),
    ("id <= <B>", "AB"),
    ("id >= <C>", "CD"),
    ("id = 'TKT-<A:04d>'", "A"),
    # Queue
    ("Queue = 'Network'", "A"),
    ("Queue != 'Network'", but("A")),
    ("Queue LIKE 'NET'", "A"),
    ("Queue NOT LIKE 'net'", but("A")),
    ("Queue = <queue_general>", but("A")),
    # Status, with RT's special values
    ("Status = 'open'", "B"),
    ("Status != 'open'", but("B")),
    ("Status LIKE 'stall'", "D"),
    ("Status NOT LIKE 'N'", "CD"),  # resolved, stalled: no n
    ("Status = '__Active__'", "ABD"),
    ("Status != '__Active__'", "C"),
    ("Status = '__Inactive__'", "C"),
    ("Status != '__Inactive__'", "ABD"),
    # Owner / Creator / LastUpdatedBy, Nobody and sub-fields
    ("Owner = 'alice'", "A"),
    ("Owner != 'alice'", but("A")),
    ("Owner = 'Nobody'", "BC"),
    ("Owner != 'Nobody'", "AD"),
    ("Owner = 'nobody'", "BC"),
    ("Owner IS NULL", "BC"),
    ("Owner IS NOT NULL", "AD"),
    ("Owner LIKE 'BO'", "D"),
    ("Owner NOT LIKE 'bo'", "ABC"),
    ("Owner.EmailAddress LIKE '@staff.example'", "AD"),
    ("Owner.Name = 'bob'", "D"),
    ("Creator = 'alice'", "D"),
    ("Creator != 'alice'", "ABC"),
    ("Creator = 'root'", "ABC"),
    # Requestor, Cc, AdminCc, Watcher
    ("Requestor = 'ann@cust.example'", "AC"),
    ("Requestor != 'ann@cust.example'", "BD"),
    ("Requestor LIKE 'ANN'", "AC"),
    ("Requestor NOT LIKE 'ann'", "BD"),
    ("Requestor IS NULL", "D"),
    ("Requestor IS NOT NULL", "ABC"),
    ("Requestor.EmailAddress LIKE '@cust.example'", "ABC"),
    ("Requestor.EmailAddress = 'BEN@cust.example'", "B"),
    ("Requestors.EmailAddress STARTSWITH 'ben'", "B"),
    ("Cc = 'carl@cust.example'", "A"),
    ("Cc != 'carl@cust.example'", but("A")),
    ("Cc LIKE 'carl'", "A"),
    ("Cc IS NULL", but("A")),
    ("AdminCc LIKE 'boss'", "A"),
    ("AdminCc IS NOT NULL", "A"),
    ("Watcher = 'ben@cust.example'", "B"),
    ("Watcher LIKE 'boss'", "A"),
    ("Watcher.EmailAddress = 'carl@cust.example'", "A"),
    # Subject: case-insensitive substring LIKE; % and _ match themselves
    ("Subject = 'beta PRINTER jam'", "B"),
    ("Subject != 'beta printer jam'", but("B")),
    ("Subject LIKE 'PRINTER'", "B"),
    ("Subject NOT LIKE 'a'", ""),
    ("Subject NOT LIKE 'printer'", but("B")),
    ("Subject LIKE '100%'", "C"),
    ("Subject LIKE '0% d'", "C"),
    ("Subject LIKE 'disk%full'", ""),
    ("Subject LIKE 'k_f'", "C"),
    ("Subject LIKE 'k f'", ""),
    ("Subject STARTSWITH 'gamma'", "C"),
    ("Subject ENDSWITH 'JAM'", "B"),
    ("Subject IS NULL", ""),
    # Content: full text over subjects, bodies and (for those who may read them) comments
    ("Content LIKE 'router'", "A"),
    ("Content LIKE 'firmware'", "A"),
    ("Content = 'upgrades'", "A"),  # stemmed
    ("Content LIKE 'hushword'", "B"),
    ("Content NOT LIKE 'router'", but("A")),
    # Numbers
    ("Priority = 80", "A"),
    ("Priority != 80", but("A")),
    ("Priority < 20", "BD"),
    ("Priority > 20", "AC"),
    ("Priority <= 10", "BD"),
    ("Priority >= 50", "AC"),
    ("Priority = '80'", "A"),
    # Priorities by name (RT's PriorityAsString): Low 0-49, Medium 50-99, High 100 and up
    ("Priority = 'Medium'", "AC"),
    ("Priority = 'low'", "BD"),
    ("Priority = Medium", "AC"),
    ("Priority = 'High'", ""),
    ("Priority != 'Medium'", "BD"),
    ("Priority < 'Medium'", "BD"),
    ("Priority <= 'Medium'", ALL),
    ("Priority > 'Low'", "AC"),
    ("Priority >= 'High'", ""),
    ("Priority > 'High'", ""),
    ("FinalPriority = 'Low'", ALL),
    # Two columns (RT: an unquoted field name is a column)
    ("Priority > FinalPriority", "ABC"),
    ("Priority = FinalPriority", "D"),
    ("TimeWorked < Priority", "AC"),
    ("TimeWorked > 0", "B"),
    ("TimeWorked = 0", but("B")),
    ("TimeWorked < 30", but("B")),
    ("TimeWorked >= 30", "B"),
    # Dates: relative, absolute, `=` is the whole day
    ("Created = 'today'", "AB"),
    ("Created = 'yesterday'", "D"),
    ("Created = 'tomorrow'", ""),
    ("Created != 'today'", "CD"),
    ("Created < 'today'", "CD"),
    ("Created >= 'today'", "AB"),
    ("Created > 'yesterday'", "AB"),
    ("Created <= 'yesterday'", "CD"),
    ("Created > '2 days ago'", "ABD"),
    ("Created < '5 days ago'", "C"),
    ("Created = '<yesterday>'", "D"),
    ("Created = '<yesterday> 12:00'", "D"),  # a time: its whole day too
    ("Created > '<yesterday> 11:00' AND Created < '<yesterday> 13:00'", "D"),
    ("Created = 'last week'", "<last_week>"),
    ("Created < 'last week'", ""),
    ("Updated = 'yesterday'", "D"),
    ("LastUpdated < 'today'", "CD"),
    ("Resolved = 'today'", "C"),
    ("Resolved IS NULL", "ABD"),
    ("Resolved IS NOT NULL", "C"),
    ("Started IS NULL", "A"),
    ("Started IS NOT NULL", "BCD"),
    ("Due = 'tomorrow'", "A"),
    ("Due < 'today'", "B"),
    ("Due > 'today'", "A"),
    ("Due IS NULL", "CD"),
    ("Due IS NOT NULL", "AB"),
    ("Due < Created", "B"),
    ("Due > Created", "A"),
    ("Due < Resolved", ""),  # an unset date compares with nothing
    ("Created < Resolved", "C"),
    ("Resolved >= LastUpdated", "C"),  # C was last touched last week
    # Custom fields: CF.Name, CF.{Name}, CF.{Name With Spaces}, RT's quoted form, CustomField.{}
    ("CF.Severity = 'high'", "A"),
    ("CF.{Severity} = 'HIGH'", "A"),
    ("CF.{Severity} != 'High'", but("A")),
    ("CF.Severity LIKE 'o'", "B"),
    ("CF.Severity NOT LIKE 'o'", but("B")),
    ("CF.Severity IS NULL", "CD"),
    ("CF.Severity IS NOT NULL", "AB"),
    ("'CF.{Severity}' = 'low'", "B"),
    ('"CF.{Severity}" = "low"', "B"),
    ("CustomField.{Severity} = 'High'", "A"),
    ("CF.Users = 40", "A"),
    ("CF.Users != 40", but("A")),
    ("CF.Users > 39", "A"),
    ("CF.Users < 40", ""),
    ("CF.Users <= 40", "A"),
    ("CF.{Asset Tag} = 'at-7_x'", "A"),
    ("CF.{Asset Tag} LIKE '7_'", "A"),
    ("CF.{Asset Tag} LIKE '7x'", ""),
    ("'CF.{Asset Tag}' IS NULL", but("A")),
    ("CF.Since = '2026-01-15'", "A"),
    ("CF.Since > '2026-01-14'", "A"),
    ("CF.Since < '2026-01-15'", ""),
    ("CF.Since <= '2026-01-15'", "A"),
    # Links
    ("DependsOn = <B>", "A"),
    ("DependsOn != <B>", but("A")),
    ("DependsOn IS NOT NULL", "A"),
    ("DependsOn IS NULL", but("A")),
    ("DependedOnBy = <A>", "B"),
    ("DependedOnBy IS NOT NULL", "B"),
    ("RefersTo = 'TKT-<C:04d>'", "A"),
    ("ReferredToBy = <A>", "C"),
    ("MemberOf = <A>", "D"),
    ("MemberOf IS NOT NULL", "D"),
    ("HasMember = <D>", "A"),
    ("HasMember IS NOT NULL", "A"),
    # Deleted and merged: hidden unless asked for
    ("Subject LIKE 'spam'", ""),
    ("Status = 'deleted'", "E"),
    ("Subject LIKE 'spam' AND Status = 'deleted'", "E"),
    ("Subject LIKE 'duplicate'", ""),
    ("MergedInto IS NOT NULL", "F"),
    ("MergedInto = <B>", "F"),
    ("MergedInto IS NULL", ALL),
    # EffectiveId as RT: a merged ticket is found by the id it was merged into
    ("EffectiveId = <B>", "BF"),
    ("EffectiveId = <F>", ""),
    ("EffectiveId != <B>", "ACD"),
    ("id = <F>", ""),
    # Grammar: precedence, case, quoting, RT's own examples
    ("Priority = 80 OR Priority = 10 AND Queue = 'Network'", "A"),  # AND binds tighter
    ("(Priority = 80 OR Priority = 10) AND Queue = 'General'", "B"),
    ("Queue = 'General' AND ( Status = 'new' OR Status = 'open' )", "B"),
    ("queue = 'general' and (status = 'open' or status = 'stalled')", "BD"),
    ('Queue = "General" AND Priority > 5', "BC"),
    ("Status = open", "B"),
    ("Owner = '__CurrentUser__'", ""),  # root owns nothing
    ("Requestor.EmailAddress LIKE '@cust.example' AND Status != 'resolved'", "AB"),
    ("", ALL),
]


def _fill(desk, template: str) -> str:
    general = desk.session.execute(text("SELECT id FROM queues WHERE name = 'General'")).scalar()
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    in_last_week = "C" + ("D" if YESTERDAY_NOON.isocalendar()[1] != NOW.isocalendar()[1] else "")
    values = {**desk.ids, "queue_general": general, "yesterday": yesterday, "last_week": in_last_week}
    return re.sub(
        r"<(\w+)(:04d)?>",
        lambda m: format(values[m.group(1)], m.group(2)[1:] if m.group(2) else ""),
        template,
    )


def test_every_field_and_operator(tk) -> None:
    """One test over the whole table (one fixture, ~150 queries), naming every query that fails."""
    wrong = []
    for query, expected in TABLE:
        query, expected = _fill(tk, query), _fill(tk, expected)
        got = found(tk, query)
        if got != expected or service.count(tk.root, query) != len(expected):
            wrong.append(f"{query!r}: expected {expected!r}, got {got!r}")
    assert not wrong, "\n".join(wrong)


def test_current_user_and_order_in_the_query(tk) -> None:
    alice = open_context(tk.session, "alice")
    assert found(tk, "Owner = '__CurrentUser__'", alice) == "A"
    assert found(tk, "Owner != '__CurrentUser__'", alice) == "BCD"
    assert found(tk, "Creator = '__CurrentUser__'", alice) == "D"
    by_id = {v: k for k, v in tk.ids.items()}
    listed = [by_id[t.id] for t in service.search(tk.root, "Priority >= 0 ORDER BY Priority DESC")]
    assert listed == ["A", "C", "B", "D"]
    # --order-by wins over the query's ORDER BY; several keys, either direction.
    listed = [by_id[t.id] for t in service.search(tk.root, "id > 0 ORDER BY Priority", "-Priority")]
    assert listed == ["A", "C", "B", "D"]
    listed = [by_id[t.id] for t in service.search(tk.root, "", "Owner DESC, Priority ASC")]
    assert listed == ["D", "A", "B", "C"]  # bob, alice, then no owner (last) by priority


def test_rights_hide_tickets_counts_and_names(tk) -> None:
    """A user who sees only Network: no other ticket, count, comment or queue name leaks."""
    tk.agent("nina", "ShowTicket", "SeeQueue", queue="Network")
    nina = open_context(tk.session, "nina")
    assert found(tk, "", nina) == "A"
    for query in (
        "Subject LIKE 'printer'",
        "Content LIKE 'hushword'",
        "Content LIKE 'printer'",
        "Status = 'deleted'",
        "MergedInto IS NOT NULL",
        "Requestor = 'ben@cust.example'",
        "DependedOnBy = {A}".format(**tk.ids),
    ):
        assert service.count(nina, query) == 0, query
        assert service.search(nina, query) == [], query
    # An unknown queue's hint names only queues she may see.
    with pytest.raises(SearchError) as info:
        service.search(nina, "Queue = 'Nowhere'")
    assert "Network" in info.value.message and "General" not in info.value.message
    # A shared search runs with the rights of whoever runs it.
    service.save_search(tk.root, "everything", "Priority >= 0", shared=True)
    saved = service.get_saved(nina, "everything")
    assert found(tk, saved.query, nina) == "A"
    # Someone with no rights at all sees nothing, and learns no count.
    tk.agent("zed")
    zed = open_context(tk.session, "zed")
    assert service.count(zed, "") == 0 and service.search(zed, "Priority >= 0") == []


def test_full_text_is_current_in_the_same_transaction(tk, shared_database) -> None:
    """The tsvector is written with the row: the searching transaction sees it at once, no other
    transaction sees it before commit (the test's outer transaction is never committed)."""
    tickets.correspond(tk.root, tk.ids["C"], MessageIn(body="quuxification happened"))
    assert found(tk, "Content LIKE 'quuxification'") == "C"
    tickets.set_fields(tk.root, tk.ids["D"], {"subject": "Delta zorblax"})
    assert found(tk, "Content LIKE 'zorblax'") == "D"
    with shared_database.engine.connect() as other:
        seen = other.execute(
            text(
                "SELECT count(*) FROM attachments"
                " WHERE search_vector @@ websearch_to_tsquery('english', 'quuxification')"
            )
        ).scalar()
    assert seen == 0


def test_saved_searches_mine_shared_and_deleting(tk) -> None:
    from tessera.core.errors import InvalidInput, NotFound

    service.save_search(tk.root, "Mine", "Owner = '__CurrentUser__'")
    service.save_search(tk.root, "Team", "Status = '__Active__' ORDER BY Priority DESC", shared=True)
    alice = open_context(tk.session, "alice")
    service.save_search(alice, "Mine", "Owner = '__CurrentUser__'", "-Priority")
    assert [(s.name, s.shared) for s in service.list_saved(alice)] == [("Mine", False), ("Team", True)]
    mine = service.get_saved(alice, "mine")
    assert found(tk, mine.query, alice) == "A"  # __CurrentUser__ is whoever runs it
    team = service.get_saved(alice, "team")
    assert [t.id for t in service.search(alice, team.query, team.order_by)][:2] == [tk.ids["A"], tk.ids["B"]]
    with pytest.raises(NotFound, match="add --shared"):
        service.delete_saved(alice, "Team")
    service.delete_saved(alice, "Team", shared=True)
    assert [s.name for s in service.list_saved(tk.root)] == ["Mine"]
    tk.agent("cust", privileged=False)
    with pytest.raises(InvalidInput, match="only agents"):
        service.save_search(open_context(tk.session, "cust"), "x", "", shared=True)
    with pytest.raises(InvalidInput, match="at most 200"):
        service.save_search(tk.root, "n" * 201, "")

"""The TUI's read model (tessera.core.listing) and the hostile-text boundary (tessera.tui.safe)."""

from __future__ import annotations

import pytest
from rich.text import Text

from tessera.core import listing
from tessera.core.errors import InvalidInput, NotFound, PermissionDenied
from tessera.core.links import merge
from tessera.core.tickets import set_status
from tessera.tui import safe


@pytest.fixture
def filled(desk):
    from tests.support.rights import AGENT_RIGHTS

    desk.agent("alice", *AGENT_RIGHTS)
    tickets = [desk.ticket(f"Ticket {n:02d} about {'printers' if n % 3 == 0 else 'mail'}") for n in range(25)]
    return desk, tickets


def all_pages(ctx, queue: str, **kw) -> list[int]:
    ids: list[int] = []
    cursor = None
    while True:
        page = listing.list_tickets(ctx, queue, limit=7, after=cursor, **kw)
        ids += [r.id for r in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            return ids


@pytest.mark.parametrize("sort", listing.SORT_KEYS)
@pytest.mark.parametrize("descending", [True, False])
def test_keyset_pages_cover_the_queue_once_in_order(filled, sort: str, descending: bool) -> None:
    desk, tickets = filled
    ids = all_pages(desk.root, "General", sort=sort, descending=descending)
    assert sorted(ids) == sorted(t.id for t in tickets)
    one_page = listing.list_tickets(desk.root, "General", sort=sort, descending=descending, limit=100)
    assert [r.id for r in one_page.rows] == ids
    assert one_page.next_cursor is None


def test_rows_carry_every_column(filled) -> None:
    desk, tickets = filled
    row = listing.list_tickets(desk.root, "General", sort="id", descending=False, limit=1).rows[0]
    assert row.id == tickets[0].id and row.display_id == tickets[0].display_id
    assert row.subject.startswith("Ticket 00") and row.status == "new" and row.owner is None
    assert row.requestor == "customer@example.com" and row.priority == 0
    assert row.created and row.updated


def test_filter_by_subject_number_status_and_owner(filled) -> None:
    desk, tickets = filled
    printers = listing.list_tickets(desk.root, "General", text="PRINTERS").rows
    assert len(printers) == 9 and all("printers" in r.subject for r in printers)
    by_number = listing.list_tickets(desk.root, "General", text=tickets[3].display_id).rows
    assert [r.id for r in by_number] == [tickets[3].id]
    set_status(desk.root, tickets[4].id, "open")
    assert [r.id for r in listing.list_tickets(desk.root, "General", text="open").rows] == [tickets[4].id]
    assert listing.list_tickets(desk.root, "General", text="100%_").rows == []


def test_filter_by_priority_number_or_name_as_the_column_shows_it_and_a_saved_view_agrees(filled) -> None:
    """The Priority column shows `High (100)`; `/high` and `/100` found nothing there."""
    from tessera.core.saved_views import save_view
    from tessera.core.search.service import search
    from tessera.core.tickets import set_fields

    desk, tickets = filled
    set_fields(desk.root, tickets[5].id, {"priority": "100"})
    set_fields(desk.root, tickets[6].id, {"priority": "60"})
    set_fields(desk.root, tickets[7].id, {"priority": "49"})

    def found(words: str) -> set[int]:
        return {r.id for r in listing.list_tickets(desk.root, "General", text=words, limit=100).rows}

    assert found("HIGH") == {tickets[5].id}
    assert found("medium") == {tickets[6].id}  # Medium is 50 to 99
    assert found("60") - {60} == {tickets[6].id}  # (ticket 60, were there one, by its number)
    assert tickets[7].id not in found("medium") | found("high")
    for words in ("high", "medium", "60"):
        view = save_view(
            desk.root,
            f"by {words}",
            queue="General",
            query="",
            words=words,
            sort="id",
            descending=False,
            shared=False,
        )
        assert {t.id for t in search(desk.root, view.query, limit=100)} == found(words), view.query


def test_deleted_and_merged_are_hidden_unless_asked(filled) -> None:
    desk, tickets = filled
    set_status(desk.root, tickets[0].id, "deleted")
    merge(desk.root, tickets[1].id, tickets[2].id)
    shown = {r.id for r in listing.list_tickets(desk.root, "General", limit=100).rows}
    assert tickets[0].id not in shown and tickets[1].id not in shown and tickets[2].id in shown
    everything = listing.list_tickets(
        desk.root, "General", limit=100, include_deleted=True, include_merged=True
    ).rows
    assert {tickets[0].id, tickets[1].id} <= {r.id for r in everything}


def test_unread_until_seen_and_again_after_someone_else_updates(filled) -> None:
    desk, tickets = filled
    alice = desk.as_("alice")
    first = tickets[0].id

    def unread() -> bool:
        rows = listing.list_tickets(alice, "General", limit=100).rows
        return next(r for r in rows if r.id == first).unread

    assert unread()
    listing.mark_seen(alice, [first])
    assert not unread()
    set_status(desk.root, first, "open")
    assert unread()
    listing.mark_seen(alice, [first])
    set_status(alice, first, "stalled")  # her own change is not news to her
    assert not unread()


def test_rights_and_bad_arguments(filled) -> None:
    desk, _ = filled
    nobody = desk.agent("nobody")
    # A queue he holds no right on is not named to him: the same answer as a queue that is not there.
    with pytest.raises(NotFound, match="unknown queue 'General'"):
        listing.list_tickets(nobody, "General")
    glimpse = desk.agent("glimpse", "SeeQueue", queue="General")
    with pytest.raises(PermissionDenied):  # he knows the queue, but may not see its tickets
        listing.list_tickets(glimpse, "General")
    with pytest.raises(InvalidInput):
        listing.list_tickets(desk.root, "General", sort="drop table")
    with pytest.raises(InvalidInput):
        listing.list_tickets(desk.root, "General", limit=0)
    with pytest.raises(NotFound):
        listing.list_tickets(desk.root, "Nope")


def test_status_choices_follow_lifecycle_and_rights(filled) -> None:
    desk, tickets = filled
    alice = desk.as_("alice")
    assert [c.status for c in listing.status_choices(alice, tickets[0].id)] == [
        "open",
        "resolved",
        "rejected",
        "stalled",
    ]
    assert "deleted" in [c.status for c in listing.status_choices(desk.root, tickets[0].id)]
    assert listing.resolve_target(alice, tickets[0].id) == "resolved"
    set_status(desk.root, tickets[0].id, "resolved")
    with pytest.raises(InvalidInput):
        listing.resolve_target(alice, tickets[0].id)


def test_preferences_and_owner_choices(filled) -> None:
    desk, _ = filled
    alice = desk.as_("alice")
    listing.set_preference(alice, "theme", "dark")
    assert listing.preferences(desk.as_("alice")) == {"theme": "dark"}
    listing.set_preference(alice, "theme", None)
    assert listing.preferences(desk.as_("alice")) == {}
    assert listing.owner_choices(desk.root, "General") == ["alice", "root"]


def test_safe_strips_escapes_and_keeps_brackets() -> None:
    raw = "a\x1b]52;c;aGk=\x07b\x1b]8;;http://x\x1b\\c\x1b[31md\x1b[0m\x9b2Je\x00f\r\ng\th [/x] [bold]"
    assert safe.clean(raw) == "abcdef\ng\th [/x] [bold]"
    assert safe.clean_line(raw) == "abcdef g h [/x] [bold]"
    rendered = safe.text("[bold red]x[/]")
    assert isinstance(rendered, Text) and rendered.plain == "[bold red]x[/]" and not rendered.spans


@pytest.mark.parametrize("sort", listing.SORT_KEYS)
def test_plain_page_sql_matches_the_statement_filtered_pages_use(filled, sort: str) -> None:
    """Plain pages run page_sql's text, filtered ones the SQLAlchemy statement: same rows, same
    order, same cursors, for every sort, direction, cursor and option."""
    from tessera.core import fast_sql
    from tessera.core.fast_sql import driver_execute
    from tessera.core.lifecycles.rules import DELETED
    from tessera.core.tickets import set_fields

    desk, tickets = filled
    ctx = desk.root
    alice = desk.as_("alice")
    for n, t in enumerate(tickets):  # ties and NULLs in every key
        changes = {"priority": str(n % 3)}
        if n % 4 == 0:
            changes["owner"] = "alice"
        if n % 5 == 0:
            changes["status"] = "open"
        if n % 3 != 2:  # Due: ties, and some with none (they sort after every Due)
            changes["due"] = f"2026-12-{10 + n % 4:02d} 09:00"
        set_fields(ctx, t.id, changes)
    listing.mark_seen(alice, [tickets[1].id, tickets[2].id])
    set_status(ctx, tickets[3].id, "deleted")
    merge(ctx, tickets[4].id, tickets[5].id)
    queue = listing.queues(ctx)[0].id
    me = alice.actor.id
    for descending in (True, False):
        for deleted, merged in ((False, False), (True, True)):
            hidden = None if deleted else DELETED
            first = listing._page_statement(ctx, sort, descending, in_queue=True, after=False,
                                            include_deleted=deleted, include_merged=merged)  # fmt: skip
            values = {"me": me, "queue": queue, "limit": 100}
            expected = [tuple(r) for r in desk.session.execute(first, values)]
            sql = fast_sql.page_sql(sort, descending, in_queue=True, after=False,
                                    hide_status=hidden, include_merged=merged)  # fmt: skip
            got = [tuple(r) for r in driver_execute(desk.session, sql, values).fetchall()]
            assert got == expected
            cursor = (expected[9][1], expected[9][0])
            values.update(after_value=cursor[0], after_id=cursor[1])
            after = listing._page_statement(ctx, sort, descending, in_queue=True, after=True,
                                            include_deleted=deleted, include_merged=merged)  # fmt: skip
            expected = [tuple(r) for r in desk.session.execute(after, values)]
            sql = fast_sql.page_sql(sort, descending, in_queue=True, after=True,
                                    hide_status=hidden, include_merged=merged)  # fmt: skip
            got = [tuple(r) for r in driver_execute(desk.session, sql, values).fetchall()]
            assert got == expected and len(got) > 5

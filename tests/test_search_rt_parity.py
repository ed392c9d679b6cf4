"""RT's search features Tessera lacked (issue 20, point 6), through the real CLI, the API process
and the TUI: priorities by name, two columns compared, EffectiveId, per-user bookmarks."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Input

from tessera.core import links, tickets
from tessera.core.bookmarks import bookmarked_ids
from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.core.schemas import TicketCreate
from tessera.tui.history_view import DetailPane
from tests.support.api import Api
from tests.support.cli import assert_one_line_error, run
from tests.support.tui import key, run_async, settle, until


@pytest.fixture
def cli(cli_env):
    def tessera(*args: str, user: str = "root", ok: bool = True, env: dict[str, str] | None = None):
        result = run(list(args), {**cli_env, "TESSERA_USER": user, **(env or {})})
        if ok:
            assert result.code == 0, f"tessera {' '.join(args)}: {result.err}"
        return result

    assert run(["db", "upgrade"], {**cli_env, "TESSERA_USER": "root"}).code == 0
    # General is shipped with a new desk (RT's initial data)
    tessera("user", "add", "alice", "--email", "alice@desk.example")
    for right in ("ShowTicket", "SeeQueue", "CreateTicket", "ModifyTicket"):
        tessera("right", "grant", right, "user:alice")
    return tessera


def _ids(result) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted(t["id"] for t in json.loads(result.out))


def _make(cli, subject: str, *extra: str) -> int:  # type: ignore[no-untyped-def]
    made = cli("ticket", "create", "--queue", "General", "--subject", subject, *extra, "--json")
    return int(json.loads(made.out)["id"])


def test_bookmarks_are_each_users_own_and_found_by_ticketsql(cli) -> None:
    first, second, third = (_make(cli, s) for s in ("first", "second", "third"))
    marked = cli("ticket", "bookmark", str(first), "--json", user="alice")
    assert json.loads(marked.out) == {"id": first, "display_id": f"TKT-{first:04d}", "bookmarked": True}
    cli("ticket", "bookmark", str(first), user="alice")  # twice is no error
    cli("ticket", "bookmark", f"TKT-{second:04d}", user="root")
    search = ("search", "id = '__Bookmarked__'", "--json")
    assert _ids(cli(*search, user="alice")) == [first]
    assert _ids(cli(*search, user="root")) == [second]
    assert _ids(cli("search", "id != '__Bookmarked__'", "--json", user="alice")) == [second, third]
    # A bookmarked ticket merged away is found as the ticket it was merged into (RT's EffectiveId).
    cli("ticket", "bookmark", str(third), user="alice")
    cli("ticket", "merge", str(third), str(second))
    assert _ids(cli(*search, user="alice")) == [first, second]
    removed = cli("ticket", "bookmark", str(first), "--remove", "--json", user="alice")
    assert json.loads(removed.out)["bookmarked"] is False
    assert "removed the bookmark of" in cli("ticket", "bookmark", str(first), "--remove", user="alice").out
    assert _ids(cli(*search, user="alice")) == [second]
    assert_one_line_error(cli("ticket", "bookmark", "999", user="alice", ok=False), "no ticket TKT-0999")
    assert_one_line_error(
        cli("search", "id < '__Bookmarked__'", ok=False), "__Bookmarked__ works with = and != only"
    )


def test_priorities_by_name_columns_and_effective_id_through_the_cli(cli) -> None:
    low = _make(cli, "low", "--priority", "10")
    medium = _make(cli, "medium", "--priority", "60")
    high = _make(cli, "high", "--priority", "100")
    assert _ids(cli("search", "Priority = 'High'", "--json")) == [high]
    assert _ids(cli("search", "priority = medium", "--json")) == [medium]
    assert _ids(cli("search", "Priority < 'Medium'", "--json")) == [low]
    assert _ids(cli("search", "Priority >= 'Medium'", "--json")) == [medium, high]
    # The names are the desk's to choose.
    urgent = {"TESSERA_PRIORITY_NAMES": "Routine=0, Urgent=90"}
    assert _ids(cli("search", "Priority = 'Urgent'", "--json", env=urgent)) == [high]
    assert_one_line_error(
        cli("search", "Priority = 'High'", env=urgent, ok=False),
        "unknown priority 'High' at column 12 (names: Routine, Urgent)",
    )
    assert_one_line_error(
        cli("search", "Priority = 'High'", env={"TESSERA_PRIORITY_NAMES": "High"}, ok=False),
        "TESSERA_PRIORITY_NAMES: cannot read 'High'",
    )
    # Two columns: the final priority is 0 for all three.
    assert _ids(cli("search", "Priority > FinalPriority", "--json")) == [low, medium, high]
    cli("ticket", "set", str(low), "final_priority=10")
    assert _ids(cli("search", "Priority = FinalPriority", "--json")) == [low]
    cli("ticket", "set", str(medium), "due=2026-01-01", "status=resolved")
    assert _ids(cli("search", "Due < Resolved", "--json")) == [medium]
    assert _ids(cli("search", "Due > Resolved", "--json")) == []
    cli("ticket", "merge", str(low), str(high))
    assert _ids(cli("search", "id = " + str(low), "--json")) == []
    assert _ids(cli("search", f"EffectiveId = {high}", "--json")) == [low, high]


def test_api_search_takes_bookmarks_priority_names_and_effective_id(api: Api, cli_env) -> None:
    with api.client(api.agent) as agent:
        made = [
            agent.post("/tickets", json={"queue": "General", "subject": s, "priority": p}).json()["id"]
            for s, p in (("a", 5), ("b", 55), ("c", 120))
        ]
        put = agent.post(f"/tickets/{made[0]}/bookmark")
        assert put.status_code == 200, put.text
        assert put.json() == {"id": made[0], "display_id": f"TKT-{made[0]:04d}", "bookmarked": True}

        def found(query: str, client=agent) -> list[int]:  # type: ignore[no-untyped-def]
            response = client.get("/tickets", params={"query": query})
            assert response.status_code == 200, response.text
            return [t["id"] for t in response.json()["tickets"]]

        assert found("id = '__Bookmarked__'") == [made[0]]
        with api.client(api.root) as root:
            assert found("id = '__Bookmarked__'", root) == []  # the agent's, not everyone's
        assert found("Priority = 'High'") == [made[2]]
        assert found("Priority = 'Medium' OR Priority = 'Low'") == made[:2]
        bad = agent.get("/tickets", params={"query": "Priority = 'Hgh'"})
        assert bad.status_code in (400, 422) and "did you mean High?" in bad.json()["detail"]
        assert (
            agent.post(f"/tickets/{made[0]}/bookmark", json={"bookmarked": False}).json()["bookmarked"]
            is False
        )
        assert found("id = '__Bookmarked__'") == []
        assert agent.post("/tickets/99999/bookmark").status_code == 404
        assert agent.post(f"/tickets/{made[0]}/bookmark", json={"bookmarked": "maybe"}).status_code == 422
        dup = agent.post("/tickets", json={"queue": "General", "subject": "dup"}).json()["id"]
    merged = run(["ticket", "merge", str(dup), str(made[1])], {**cli_env, "TESSERA_USER": "root"})
    assert merged.code == 0, merged.err
    with api.client(api.agent) as agent:
        assert found(f"id = {dup}", agent) == []
        assert found(f"EffectiveId = {made[1]}", agent) == [made[1], dup]
        assert found(f"EffectiveId = {dup}", agent) == []


@run_async
async def test_tui_b_toggles_a_bookmark_says_which_way_and_the_pane_names_the_priority(
    database: Database, tui_desk
) -> None:
    from tests.test_tui_app import SIZE, highlight, make_app, open_highlighted, started

    printer, vpn = tui_desk["printer"], tui_desk["vpn"]
    with database.session() as session:
        tickets.set_fields(open_context(session, "root"), vpn, {"priority": "100"})
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, printer)
        await pilot.press(key("bookmark"))
        await until(pilot, lambda: _marks(database, "alice") == {printer})
        # the notice says which way it went (it said "Bookmark toggled" both ways)
        await until(pilot, lambda: any(n.message.startswith("Bookmarked: ") for n in app._notifications))
        await settle(pilot)
        await open_highlighted(pilot, screen, printer)
        detail = screen.query_one("#detail", DetailPane)
        await until(pilot, lambda: "★ bookmarked" in detail.plain)
        await pilot.press(key("search"))
        await until(pilot, lambda: app.screen is not screen)
        field = app.screen.query_one("#search-input", Input)
        field.value = "id = '__Bookmarked__'"
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen and list(screen.queue_pane.rows) == [printer])
        await settle(pilot)
        await pilot.press(key("cancel"))
        await until(pilot, lambda: len(screen.queue_pane.rows) == 4)
        await settle(pilot)
        await highlight(pilot, screen, vpn)
        await open_highlighted(pilot, screen, vpn)
        await until(pilot, lambda: "High (100), initial 0, final 0" in detail.plain)
        assert "bookmarked" not in detail.plain
        screen.queue_pane.table.focus()
        await highlight(pilot, screen, printer)
        await pilot.press(key("queue.open"))
        await until(pilot, lambda: screen.ticket_pane.current_id == printer)
        await settle(pilot)
        await pilot.press(key("bookmark"))  # again, on the open ticket: removed
        await until(pilot, lambda: _marks(database, "alice") == set())
        removed = "Bookmark removed: "
        await until(pilot, lambda: any(n.message.startswith(removed) for n in app._notifications))
    assert _marks(database, "bob") == set()


def _marks(database: Database, user: str) -> set[int]:
    with database.session() as session:
        return bookmarked_ids(open_context(session, user))


def test_a_bookmark_follows_the_merge_in_core(desk) -> None:
    a = tickets.create_ticket(desk.root, TicketCreate(queue="General", subject="a"))
    b = tickets.create_ticket(desk.root, TicketCreate(queue="General", subject="b"))
    from tessera.core.bookmarks import is_bookmarked, set_bookmark
    from tessera.core.search import service

    set_bookmark(desk.root, a.id)
    links.merge(desk.root, a.id, b.id)
    assert [t.id for t in service.search(desk.root, "id = '__Bookmarked__'")] == [b.id]
    assert is_bookmarked(desk.root, b.id) and bookmarked_ids(desk.root) == {b.id}
    set_bookmark(desk.root, b.id, False)  # removing it from the survivor removes the merged one's
    assert service.search(desk.root, "id = '__Bookmarked__'") == []

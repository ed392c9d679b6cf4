"""Issue 18 point 4: a marked set behaves like single tickets. Take offers to steal what others
own; a status change and a reply show the dry-run for the set (mails counted, grouped by scrip, to
whom); a refusal names each ticket and why, and the rest still apply (RT's bulk update: each
ticket on its own), as the confirmation says. Pilot tests, plus core's `tessera.core.bulk`."""

from __future__ import annotations

from textual.widgets import Static

from tessera.core.bulk import EACH_ON_ITS_OWN, apply_each, owners, take_set
from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.core.ids import display_id
from tessera.core.ownership import take
from tessera.core.tickets import set_status
from tessera.tui.main_screen import MainScreen
from tessera.tui.review import ReviewScreen
from tessera.tui.screens import ComposeScreen, ConfirmScreen, PickerScreen
from tests.support.tui import key, run_async, settle, type_text, until
from tests.test_tui_app import SIZE, make_app, started, ticket_state


async def mark(pilot, screen: MainScreen, *ticket_ids: int) -> None:  # type: ignore[no-untyped-def]
    """Mark these rows with x (the cursor on each first), after esc clears any marks left."""
    if screen.queue_pane.marked:
        await pilot.press("escape")
        await until(pilot, lambda: not screen.queue_pane.marked)
    for ticket_id in ticket_ids:
        screen.queue_pane.table.move_cursor(row=list(screen.queue_pane.rows).index(ticket_id))
        await pilot.pause()
        await pilot.press(key("queue.mark"))
    await until(pilot, lambda: set(screen.queue_pane.marked) == set(ticket_ids))


def notices(app) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(n.message) for n in app._notifications)


def unowned(database: Database, ticket_id: int) -> bool:
    return ticket_state(database, ticket_id)["owner"] in (None, "", "Nobody")


@run_async
async def test_a_set_take_offers_to_steal_what_others_own(database: Database, tui_desk) -> None:
    printer, vpn, laptop = tui_desk["printer"], tui_desk["vpn"], tui_desk["laptop"]
    with database.session() as session:
        take(open_context(session, "bob"), printer)
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await mark(pilot, screen, printer, vpn)
        await pilot.press(key("take"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        # the question names whose ticket would be stolen, and what a refusal does to the rest
        assert picker.title_text == "Take 2 tickets? 1 owned by others"
        detail = str(picker.query_one("#picker-detail", Static).render())
        assert f"{display_id(printer)} (bob)" in detail and EACH_ON_ITS_OWN in detail
        assert [c.value for c in picker.choices] == ["cancel", "take", "steal"]
        await pilot.press("down", "enter")  # the unowned one only: bob keeps his
        await until(pilot, lambda: ticket_state(database, vpn)["owner"] == "alice")
        await settle(pilot)
        assert ticket_state(database, printer)["owner"] == "bob"
        await mark(pilot, screen, printer, laptop)
        await pilot.press(key("take"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"steal", "enter")
        await until(pilot, lambda: ticket_state(database, printer)["owner"] == "alice")
        await settle(pilot)
        assert ticket_state(database, laptop)["owner"] == "alice"
        kinds = [e["type"] for e in ticket_state(database, printer)["history"]]
        assert kinds[-1] == "Steal"
        # all yours already: nothing to ask
        await mark(pilot, screen, printer, laptop)
        await pilot.press(key("take"))
        await until(pilot, lambda: "yours already" in notices(app))
        assert isinstance(app.screen, MainScreen)


@run_async
async def test_a_set_resolve_shows_the_grouped_dry_run_and_names_each_refusal(
    database: Database, tui_desk
) -> None:
    printer, vpn, laptop = tui_desk["printer"], tui_desk["vpn"], tui_desk["laptop"]
    with database.session() as session:
        set_status(open_context(session, "root"), laptop, "resolved")
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await mark(pilot, screen, printer, vpn, laptop)
        await pilot.press(key("resolve"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.query_one(".question", Static).render())
        assert question == "Resolve 3 tickets (1 refused, the rest apply)?"
        plan = str(app.screen.query_one("#confirm-detail Static", Static).render())
        assert "Dry run on 3 tickets: 2 would change, 1 refused" in plan
        assert f"refused  {display_id(laptop)} is already resolved" in plan
        # the mail is counted and grouped by the scrip that sends it, with everyone it goes to
        assert "Mail that would be queued: 2" in plan
        assert "2 × On Resolve Notify Requestors (2 tickets)" in plan
        assert "printer@customer.example" in plan and "vpn@customer.example" in plan
        assert "status → resolved: 2 ticket(s)" in plan and EACH_ON_ITS_OWN in plan
        assert ticket_state(database, printer)["status"] != "resolved"  # a dry-run: nothing kept
        await pilot.press(key("confirm.yes"))
        await until(pilot, lambda: ticket_state(database, vpn)["status"] == "resolved")
        await settle(pilot)
        assert ticket_state(database, printer)["status"] == "resolved"
        # the refusal at apply time names the ticket and why; the others were changed
        said = notices(app)
        assert "Resolved: 2 of 3 tickets. Refused (the rest applied):" in said
        assert f"{display_id(laptop)} is already resolved" in said


@run_async
async def test_a_set_status_change_shows_the_dry_run_for_the_set(database: Database, tui_desk) -> None:
    printer, vpn = tui_desk["printer"], tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await mark(pilot, screen, printer, vpn)
        await pilot.press(key("status"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"rejected", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert str(app.screen.query_one(".question", Static).render()) == "Set 2 tickets to rejected?"
        plan = str(app.screen.query_one("#confirm-detail Static", Static).render())
        assert "Dry run on 2 tickets: 2 would change, 0 refused" in plan
        assert "status → rejected: 2 ticket(s)" in plan and EACH_ON_ITS_OWN in plan
        await pilot.press(key("confirm.yes"))
        await until(pilot, lambda: ticket_state(database, vpn)["status"] == "rejected")
        assert ticket_state(database, printer)["status"] == "rejected"


@run_async
async def test_a_set_assign_says_how_a_refusal_is_handled(database: Database, tui_desk) -> None:
    printer, vpn = tui_desk["printer"], tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await mark(pilot, screen, printer, vpn)
        await pilot.press(key("assign"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"bob", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert str(app.screen.query_one(".question", Static).render()) == "Give 2 tickets to bob?"
        assert EACH_ON_ITS_OWN in str(app.screen.query_one("#confirm-detail Static", Static).render())
        await pilot.press(key("confirm.yes"))
        await until(pilot, lambda: ticket_state(database, vpn)["owner"] == "bob")
        assert ticket_state(database, printer)["owner"] == "bob"


@run_async
async def test_a_set_reply_and_comment_review_the_grouped_mail(database: Database, tui_desk) -> None:
    printer, vpn = tui_desk["printer"], tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await mark(pilot, screen, printer, vpn)
        await pilot.press(key("reply"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await type_text(pilot, "Fixed for all of you")
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        plan = str(app.screen.query_one("#review-plan").render())
        assert "Dry run on 2 tickets: 2 would change, 0 refused" in plan
        assert "× On Correspond Notify Requestors and Ccs (2 tickets)" in plan
        assert "printer@customer.example" in plan and "vpn@customer.example" in plan
        await pilot.press(key("review.send"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await until(pilot, lambda: "Replied: 2 tickets" in notices(app))
        await mark(pilot, screen, printer, vpn)
        await pilot.press(key("comment"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await type_text(pilot, "seen by the team")
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        assert "Dry run on 2 tickets" in str(app.screen.query_one("#review-plan").render())
        await pilot.press(key("review.send"))
        await until(pilot, lambda: "Commented: 2 tickets" in notices(app))
    for ticket_id in (printer, vpn):
        events = ticket_state(database, ticket_id)["history"]
        kinds = [(e["type"], (e["message"] or {}).get("content")) for e in events]
        assert ("Correspond", "Fixed for all of you") in kinds and ("Comment", "seen by the team") in kinds


def test_core_applies_each_ticket_on_its_own_and_names_each_refusal(database: Database, tui_desk) -> None:
    printer, vpn, laptop = tui_desk["printer"], tui_desk["vpn"], tui_desk["laptop"]
    with database.session() as session:
        take(open_context(session, "bob"), printer)
    with database.session() as session:
        alice = open_context(session, "alice")
        found = owners(alice, [printer, vpn, laptop])
        assert (found.free, found.mine, found.others) == ([vpn, laptop], [], {printer: "bob"})
        result = take_set(alice, [printer, vpn, laptop], steal=False)
        assert result.done == [vpn, laptop]
        assert result.lines() == [f"{display_id(printer)}: owned by bob; not stolen (you chose to leave it)"]
        # one refused in the middle: the tickets before and after it are changed all the same
        result = apply_each(alice, [vpn, printer, laptop], lambda c, t: set_status(c, t, "open"))
        assert result.done == [vpn, printer, laptop]
        result = apply_each(alice, [vpn, printer, laptop], lambda c, t: set_status(c, t, "bogus"))
        assert result.done == [] and [r.ticket_id for r in result.refused] == [vpn, printer, laptop]
    assert unowned(database, printer) is False
    assert ticket_state(database, vpn)["status"] == "open"

"""Pilot tests of issue 18, "the TUI for a whole working day": keys never act on a ticket you are
not looking at, q never quits from a search, quitting asks only when a draft is unsent, the
history follows what you did; replies quote; jump, maximise, counts, saved views, create."""

from __future__ import annotations

from textual.widgets import Input, Static

from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.core.ids import display_id
from tessera.core.schemas import MessageIn
from tessera.core.search.service import save_search
from tessera.core.tickets import comment
from tessera.tui import drafts
from tessera.tui.history import when
from tessera.tui.main_screen import MainScreen
from tessera.tui.review import ReviewScreen
from tessera.tui.screens import ComposeScreen, ConfirmScreen
from tests.support.tui import key, run_async, settle, type_text, until
from tests.test_tui_app import SIZE, highlight, make_app, open_highlighted, started, ticket_state


async def filter_to(pilot, screen: MainScreen, words: str, expect: set[int]) -> None:  # type: ignore[no-untyped-def]
    """/ words enter: the list shows only `expect`."""
    await pilot.press(key("queue.filter"))
    await pilot.press(*words, "enter")
    await until(pilot, lambda: set(screen.queue_pane.rows) == expect)
    await settle(pilot)


def question(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one(".question", Static).render())


# -- point 3: keys act on the ticket you look at ------------------------------------------------------


@run_async
async def test_a_filter_hiding_the_open_ticket_leaves_the_keys_on_it(database: Database, tui_desk) -> None:
    printer, vpn = tui_desk["printer"], tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, printer)
        await open_highlighted(pilot, screen, printer)
        # / with a filter that hides the open ticket, then esc: the panes still show the printer
        await pilot.press(key("queue.filter"), *"VPN")
        await until(pilot, lambda: set(screen.queue_pane.rows) == {vpn})
        assert screen.queue_pane.table.highlighted_id == vpn and screen.queue_pane.table.drifted
        await pilot.press("escape")
        await pilot.press(key("reply"))  # at once: the reload that clears the filter may still run
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        title = str(app.screen.query_one(".title").render())
        assert display_id(printer) in title and "Printer on fire" in title and "VPN" not in title
        await pilot.press(key("compose.discard"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await settle(pilot)
        # the cleared filter brought the cursor back to the ticket you chose, not the row it fell on
        assert screen.queue_pane.table.highlighted_id == printer
        # the filter submitted with enter: the list shows only VPN, yet t takes the ticket shown
        await filter_to(pilot, screen, "VPN", {vpn})
        assert app.focused is screen.queue_pane.table
        await pilot.press(key("take"))
        await settle(pilot)
        await until(pilot, lambda: ticket_state(database, printer)["owner"] == "alice")
        assert ticket_state(database, vpn)["owner"] in (None, "", "Nobody")


@run_async
async def test_a_row_the_list_moved_the_cursor_to_is_confirmed_by_name(database: Database, tui_desk) -> None:
    laptop, vpn = tui_desk["laptop"], tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, laptop)  # chosen, never opened
        await filter_to(pilot, screen, "VPN", {vpn})
        await pilot.press(key("take"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        asked = question(app)
        assert display_id(vpn) in asked and "VPN drops every hour" in asked
        assert "changed under the cursor" in asked
        await pilot.press(key("confirm.no"))
        await settle(pilot)
        assert ticket_state(database, vpn)["owner"] in (None, "", "Nobody")
        assert ticket_state(database, laptop)["owner"] in (None, "", "Nobody")
        # moving the cursor yourself makes the row yours: no question
        await pilot.press(key("queue.first"))
        await pilot.press(key("take"))
        await until(pilot, lambda: ticket_state(database, vpn)["owner"] == "alice")
        assert isinstance(app.screen, MainScreen)


@run_async
async def test_q_leaves_a_saved_view_for_the_queue_in_its_own_sort(database: Database, tui_desk) -> None:
    with database.session() as session:
        save_search(open_context(session, "alice"), "newest first", "Status = 'new'", order_by="id DESC")
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        pane = screen.queue_pane
        pane.set_sort("subject")
        await settle(pilot)
        assert (pane.view.sort, pane.view.descending) == ("subject", False)
        await pilot.press(key("view.1"))
        await until(pilot, lambda: pane.view.search == "Status = 'new'")
        await settle(pilot)
        assert (pane.view.sort, pane.view.descending) == ("id", True)
        await pilot.press(key("back"))
        await until(pilot, lambda: pane.view.search == "")
        await settle(pilot)
        assert app.return_code is None and isinstance(app.screen, MainScreen)
        assert (pane.view.sort, pane.view.descending) == ("subject", False)
        # esc leaves a search the same way, and a quick filter goes with q too
        await pilot.press(key("view.1"))
        await until(pilot, lambda: pane.view.search != "")
        await pilot.press("escape")
        await until(pilot, lambda: pane.view.search == "")
        assert pane.view.sort == "subject"
        await filter_to(pilot, screen, "VPN", {tui_desk["vpn"]})
        await pilot.press(key("back"))
        await until(pilot, lambda: len(pane.rows) == 4)
        assert app.return_code is None
        # the queue itself, nothing unsent: q quits without a question
        await pilot.press(key("back"))
        await until(pilot, lambda: app.return_code is not None)
        assert app.return_code == 0


def test_quit_question_names_draft_tickets_as_the_desk_does() -> None:
    """The quit question names tickets TKT-0042 as the list, the panes and the toasts do, not #42."""
    assert drafts.describe([("reply", "42"), ("comment", "3, 4")]) == (
        "reply to TKT-0042, comment to TKT-0003, TKT-0004"
    )


@run_async
async def test_quitting_asks_only_while_a_draft_is_unsent(database: Database, tui_desk) -> None:
    vpn = tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, vpn)
        await pilot.press(key("reply"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await type_text(pilot, "Half a reply")
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press(key("review.postpone"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.press(key("back"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert question(app) == f"Quit with 1 unsent draft (reply to TKT-{vpn:04d})?"
        await pilot.press(key("confirm.no"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert app.return_code is None
        await pilot.press("ctrl+q")  # the same check
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(key("confirm.yes"))
        await until(pilot, lambda: app.return_code is not None)
    assert drafts.pending("alice") == [("reply", str(vpn))]  # kept on disk, as the question said


@run_async
async def test_the_history_follows_a_transaction_you_made(database: Database, tui_desk) -> None:
    printer = tui_desk["printer"]
    with database.session() as session:
        root = open_context(session, "root")
        for n in range(12):
            comment(root, printer, MessageIn(body="\n".join(f"note {n} line {i}" for i in range(6))))
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, printer)
        await open_highlighted(pilot, screen, printer)
        history = screen.ticket_pane.history
        history.scroll_home(animate=False)
        await until(pilot, lambda: history.scroll_y == 0)
        assert not history.is_vertical_scroll_end
        await pilot.press(key("comment"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await type_text(pilot, "Followed to the end")
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press(key("review.send"))
        body = screen.ticket_pane.history
        await until(pilot, lambda: "Followed to the end" in body.plain)
        await until(pilot, lambda: history.is_vertical_scroll_end and history.scroll_y > 0)
        # a verb from the list on a ticket that is not open opens it, at its newest transaction
        laptop = tui_desk["laptop"]
        await pilot.press(key("back"))
        await highlight(pilot, screen, laptop)
        await pilot.press(key("take"))
        await until(pilot, lambda: screen.ticket_pane.current_id == laptop)
        await until(pilot, lambda: "alice" in body.plain and history.is_vertical_scroll_end)
        assert app.focused is screen.queue_pane.table


# -- point 2: replies quote ------------------------------------------------------------------------


@run_async
async def test_a_reply_starts_with_the_answered_message_quoted(database: Database, tui_desk) -> None:
    printer, hostile = tui_desk["printer"], tui_desk["hostile"]
    answered = ticket_state(database, printer)["history"][1]  # root's "Have you tried water?"
    assert answered["type"] == "Correspond"
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, printer)
        await pilot.press(key("reply"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        quote = f"On {when(answered['created'])}, root wrote:\n> Have you tried water?\n\n"
        assert app.screen.text == quote
        area = app.screen.query_one("#compose-body")
        assert area.cursor_location == area.document.end  # you write below the quote
        # only the quote: nothing to send, and leaving asks nothing and keeps no draft
        await pilot.press(key("compose.send"))
        await pilot.pause()
        assert isinstance(app.screen, ComposeScreen)
        assert any("only the quote" in str(n.message) for n in app._notifications)
        await pilot.press(key("compose.discard"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert drafts.pending("alice") == []
        # written below the quote: sent with it
        await pilot.press(key("reply"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await type_text(pilot, "Yes, twice.")
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press(key("review.send"))

        def alices() -> list[str]:
            events = ticket_state(database, printer)["history"]
            return [
                e["message"]["content"] for e in events if e["type"] == "Correspond" and e["actor"] == "alice"
            ]

        await until(pilot, lambda: bool(alices()))
        assert alices() == [quote + "Yes, twice."]
        # a hostile body is quoted without its escape sequences
        await settle(pilot)
        await highlight(pilot, screen, hostile)
        await pilot.press(key("reply"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        text = app.screen.text
        assert "> Body [red]not red[/red] ansi [/x]" in text and "\x1b" not in text


@run_async
async def test_R_and_the_quote_setting_start_a_reply_blank(database: Database, tui_desk) -> None:
    vpn = tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, vpn)
        await pilot.press(key("reply_blank"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert app.screen.text == ""
        await pilot.press(key("compose.discard"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await screen.run_action("toggle_quote")  # the palette's "Replies start quoted: on / off"
        await settle(pilot)
        await pilot.press(key("reply"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert app.screen.text == ""
        await pilot.press(key("compose.discard"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
    with database.session() as session:
        assert open_context(session, "alice").actor.preferences["tui.quote"] is False
    app = make_app(database)  # remembered: a new session starts replies blank too
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        assert screen.quote_replies is False
        await highlight(pilot, screen, vpn)
        await pilot.press(key("reply"))
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert app.screen.text == ""


# -- point 1: jump, maximise, queue counts, saved views, create -------------------------------------


@run_async
async def test_a_ticket_number_in_the_search_bar_or_palette_opens_it(database: Database, tui_desk) -> None:
    from textual.command import CommandList, CommandPalette

    from tessera.tui.search_screens import SearchScreen

    printer, laptop = tui_desk["printer"], tui_desk["laptop"]
    with database.session() as session:  # a ticket in another queue than the one shown
        from tessera.core.schemas import TicketCreate
        from tessera.core.tickets import create_ticket

        elsewhere = create_ticket(
            open_context(session, "root"), TicketCreate(queue="Network", subject="Switch")
        ).id
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        for typed, wanted in (
            (str(laptop), laptop),
            (f"#{printer}", printer),
            (display_id(elsewhere), elsewhere),
        ):
            await pilot.press(key("search"))
            await until(pilot, lambda: isinstance(app.screen, SearchScreen))
            app.screen.query_one("#search-input", Input).value = typed
            await pilot.press("enter")
            await until(pilot, lambda w=wanted: screen.ticket_pane.current_id == w)  # type: ignore[misc]
            assert screen.queue_pane.view.search == ""  # the view is left as it was
            assert app.focused is screen.ticket_pane.history
        assert screen.queue_pane.table.highlighted_id == printer  # the last one in the list: its row
        # the palette: TKT-0004 (any form) offers "Open TKT-0004"
        await pilot.press(key("back"))
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*display_id(laptop).lower())
        await until(pilot, lambda: app.screen.query_one(CommandList).option_count > 0)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: screen.ticket_pane.current_id == laptop)
        # a number that is no ticket: one line saying so
        await pilot.press(key("search"))
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        app.screen.query_one("#search-input", Input).value = "#99999"
        await pilot.press("enter")
        await until(pilot, lambda: any("TKT-99999" in str(n.message) for n in app._notifications))
        assert screen.ticket_pane.current_id == laptop


@run_async
async def test_z_maximises_the_focused_pane_and_back(database: Database, tui_desk) -> None:
    printer = tui_desk["printer"]
    app = make_app(database)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await started(pilot)
        await highlight(pilot, screen, printer)
        await open_highlighted(pilot, screen, printer)
        history = screen.ticket_pane.history
        assert history.size.width < 60
        await pilot.press(key("maximize"))
        await pilot.pause()
        assert screen.maximized is history
        await until(pilot, lambda: history.outer_size.width == 80 and history.outer_size.height >= 20)
        await pilot.press(key("maximize"))
        await pilot.pause()
        assert screen.maximized is None
        await until(pilot, lambda: history.size.width < 60)
        # the list: the whole queue pane; q restores before it goes back anywhere
        await pilot.press(key("back"))
        assert app.focused is screen.queue_pane.table
        await pilot.press(key("maximize"))
        await pilot.pause()
        assert screen.maximized is screen.queue_pane
        # it fills the screen (it is 45% of it otherwise), not a same-sized pane amid hatching
        pane = screen.queue_pane
        await until(pilot, lambda: pane.outer_size.width == 80 and pane.outer_size.height >= 20)
        await pilot.press(key("back"))
        await pilot.pause()
        assert screen.maximized is None and app.return_code is None


@run_async
async def test_the_queue_picker_shows_active_and_unowned_counts(database: Database, tui_desk) -> None:
    from tessera.core.tickets import set_status
    from tessera.tui.screens import PickerScreen

    with database.session() as session:
        root = open_context(session, "root")
        from tessera.core import ownership

        ownership.give(root, tui_desk["vpn"], "bob")
        set_status(root, tui_desk["laptop"], "resolved")
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press(key("queues.pick"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        details = {c.label: c.detail for c in app.screen.choices}
        # General: printer, vpn, hostile active (laptop resolved); vpn is bob's
        assert details == {"General": "3 active, 2 unowned", "Network": "0 active, 0 unowned"}


@run_async
async def test_save_the_list_as_a_view_then_rename_and_delete_it(database: Database, tui_desk) -> None:
    from tessera.core.search.service import list_saved
    from tessera.tui.screens import PickerScreen, PromptScreen
    from tessera.tui.search_screens import ViewsScreen

    def saved(user: str = "alice") -> list[tuple[str, str, str, bool]]:
        with database.session() as session:
            return [(s.name, s.query, s.order_by, s.shared) for s in list_saved(open_context(session, user))]

    vpn = tui_desk["vpn"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        pane = screen.queue_pane
        pane.set_sort("priority")
        await filter_to(pilot, screen, "VPN", {vpn})
        # W: a name, then mine or shared; the view is the queue, the filter and the order
        await pilot.press(key("save_view"))
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"vpn things", "enter")
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"mine", "enter")
        query = "Queue = 'General' AND (Subject LIKE 'VPN' OR Requestor LIKE 'VPN')"
        await until(pilot, lambda: bool(saved()))
        assert saved() == [("vpn things", query, "Priority DESC", False)]
        # the saved view shows the same rows
        await pilot.press(key("back"))
        await until(pilot, lambda: len(pane.rows) == 4)
        await pilot.press(key("view.1"))
        await until(pilot, lambda: pane.view.search == query and set(pane.rows) == {vpn})
        # shared, from the views list's last line; bob sees it, and not alice's own
        await pilot.press(key("views"))
        await until(pilot, lambda: isinstance(app.screen, ViewsScreen))
        await pilot.press(*"save this", "enter")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"team vpn", "enter")
        await until(
            pilot, lambda: isinstance(app.screen, PickerScreen) and not isinstance(app.screen, ViewsScreen)
        )
        await pilot.press(*"shared", "enter")
        await until(pilot, lambda: len(saved()) == 2)
        assert saved("bob") == [("team vpn", query, "Priority DESC", True)]
        # F2 renames the highlighted view; delete deletes it after y/N
        await pilot.press(key("views"))
        await until(pilot, lambda: isinstance(app.screen, ViewsScreen))
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        app.screen.query_one(Input).value = "my vpn"
        await pilot.press("enter")
        await until(pilot, lambda: saved()[0][0] == "my vpn")
        await until(pilot, lambda: isinstance(app.screen, ViewsScreen))  # the list again
        await pilot.press("down", "delete")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert question(app) == "Delete the shared view team vpn?"
        await pilot.press(key("confirm.yes"))
        await until(pilot, lambda: [s[0] for s in saved()] == ["my vpn"])
        await until(pilot, lambda: isinstance(app.screen, ViewsScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


@run_async
async def test_new_ticket_form_tab_order_is_its_fields_and_body_only(database: Database, tui_desk) -> None:
    """shift+tab from Requestors goes to the message body, never to the form's scroll container
    (where what is typed next would go nowhere)."""
    from textual.widgets import Input, TextArea

    from tessera.tui.screens import CreateScreen, PickerScreen

    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press(key("create"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CreateScreen))
        form = app.screen
        assert all(isinstance(w, Input | TextArea) for w in form.focus_chain)
        assert app.focused is form.query_one("#create-requestors")
        await pilot.press("shift+tab")
        assert app.focused is form.query_one("#create-body")


@run_async
async def test_create_a_ticket_with_required_fields_review_and_dry_run(database: Database, tui_desk) -> None:
    from sqlalchemy import func, select

    from tessera.core.customfields import create_field
    from tessera.core.models import Ticket
    from tessera.tui.screens import CreateScreen, PickerScreen

    with database.session() as session:
        root = open_context(session, "root")
        create_field(root, "Asset", queue="General", pattern=r"\S+", description="the asset tag")
        create_field(root, "Team", type_="select", values=["ops", "dev"])
        session.commit()

    def tickets() -> int:
        with database.session() as session:
            return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)

    before = tickets()
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press(key("create"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        assert [c.value for c in app.screen.choices] == ["General", "Network"]  # the queue shown first
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CreateScreen))
        form = app.screen
        labels = [str(label.render()) for label in form.query(".field-label")]
        assert labels == ["Requestors", "Subject", "Asset *", "Team"]
        await pilot.press(*"new@customer.example", "tab", *"Monitor flickers")
        form.query_one("#create-body").text = "It flickers."
        await pilot.press(key("compose.send"))
        await pilot.pause()
        assert "Required in General: Asset" in str(form.query_one("#create-error").render())
        assert app.focused is form.query_one("#create-cf-0")
        await pilot.press(*"LT-9")
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        message = str(app.screen.query_one("#review-message").render())
        assert (
            "new@customer.example" in message and "Monitor flickers" in message and "It flickers." in message
        )
        assert "Asset: LT-9" in message and "Team" not in message  # the fields it gets (empty: none)
        plan = str(app.screen.query_one("#review-plan").render())
        assert "Mail that would be queued" in plan and "new@customer.example" in plan
        assert tickets() == before  # a dry run: nothing made
        await pilot.press(key("review.edit"))  # back to the form, nothing lost
        await until(pilot, lambda: isinstance(app.screen, CreateScreen))
        assert app.screen.query_one("#create-cf-0", Input).value == "LT-9"
        await pilot.press(key("compose.send"))
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press(key("review.send"))
        await until(pilot, lambda: tickets() == before + 1)
        await until(
            pilot,
            lambda: (
                screen.ticket_pane.current is not None
                and screen.ticket_pane.current.ticket["subject"] == "Monitor flickers"
            ),
        )
        made = screen.ticket_pane.current.ticket
        assert made["requestors"] == ["new@customer.example"] and made["queue"] == "General"
        assert made["custom_fields"]["Asset"] in ("LT-9", ["LT-9"])
        state = ticket_state(database, made["id"])
        assert (
            state["history"][0]["type"] == "Create"
            and state["history"][0]["message"]["content"] == "It flickers."
        )
        await until(pilot, lambda: screen.queue_pane.table.highlighted_id == made["id"])


@run_async
async def test_create_is_refused_in_one_line_where_you_may_not(database: Database, tui_desk) -> None:
    from tessera.core import grants, users
    from tessera.tui.screens import CreateScreen, PickerScreen

    with database.session() as session:
        root = open_context(session, "root")
        users.add_user(root, "carol", email="carol@desk.example", privileged=True)
        for right in ("SeeQueue", "ShowTicket"):
            grants.grant(root, right, "user:carol")
    app = make_app(database, user="carol")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press(key("create"))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press("enter")
        said = lambda: any("CreateTicket" in str(n.message) for n in app._notifications)  # noqa: E731
        await until(pilot, said)
        assert not isinstance(app.screen, CreateScreen)


# -- point 5: finding -----------------------------------------------------------------------------


@run_async
async def test_the_filter_matches_the_requestor_column(database: Database, tui_desk) -> None:
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await filter_to(pilot, screen, "vpn@cust", {tui_desk["vpn"]})
        await pilot.press("escape")
        await until(pilot, lambda: len(screen.queue_pane.rows) == 4)
        await filter_to(pilot, screen, "customer.example", set(tui_desk.values()))


@run_async
async def test_a_search_saved_as_a_view_is_named_by_the_view_at_once(database: Database, tui_desk) -> None:
    """W on a search: the top bar and the list's title name the view just saved (they said
    "search ..." until the view was opened again from V)."""
    from tessera.tui.screens import PickerScreen, PromptScreen
    from tessera.tui.search_screens import SearchScreen

    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        pane = screen.queue_pane
        await pilot.press(key("search"))
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await pilot.press(*"Subject LIKE 'VPN'", "enter")
        await until(pilot, lambda: pane.view.search == "Subject LIKE 'VPN'" and bool(pane.rows))
        assert screen.top_bar.state.view_name == "" and str(pane.border_title).startswith("Search")
        await pilot.press(key("save_view"))
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"vpn watch", "enter")
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"mine", "enter")
        await until(pilot, lambda: screen.top_bar.state.view_name == "vpn watch")
        rows = len(pane.rows)
        assert str(pane.border_title) == f"vpn watch ({rows})" and pane.view.search == "Subject LIKE 'VPN'"


@run_async
async def test_tab_completes_the_common_prefix_then_cycles(database: Database, tui_desk) -> None:
    from tessera.tui.search_screens import SearchScreen

    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press(key("search"))
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        search = app.screen
        field = search.query_one("#search-input", Input)
        suggestions = search.query_one("#search-suggestions")

        def offered() -> list[str]:
            return [suggestions.get_option_at_index(i).id or "" for i in range(suggestions.option_count)]

        await pilot.press(*"Requ")
        await until(pilot, lambda: len(offered()) > 1 and all(o.startswith("Requestor") for o in offered()))
        candidates = offered()
        await pilot.press("tab")  # the part every candidate shares, nothing chosen yet
        assert field.value == "Requestor"
        await until(pilot, lambda: offered() and all(o.startswith("Requestor") for o in offered()))
        candidates = offered()
        await pilot.press("tab")  # then each candidate in turn
        assert field.value == candidates[0] + " "
        await pilot.press("tab")
        assert field.value == candidates[1] + " "
        # the list still offers the candidates (not the operators after the one in the bar), that
        # one highlighted
        await settle(pilot)
        assert offered() == candidates and suggestions.highlighted == 1
        for _ in range(len(candidates) - 1):
            await pilot.press("tab")
        assert field.value == candidates[0] + " "  # round again
        await pilot.press(*"= 'x'")  # typing ends the cycle
        assert field.value == candidates[0] + " = 'x'"
        await until(pilot, lambda: offered() != candidates)  # and suggests for what is typed again


def burst(app, keys: str) -> None:  # type: ignore[no-untyped-def]
    """Keys as a terminal delivers a burst (tmux send-keys, a fast typist): all queued at once,
    none waiting for what the one before it opens (Pilot's `press` waits for the app between keys)."""
    from textual import events
    from textual.keys import _character_to_key

    for char in keys:
        name = char if char.isalnum() else _character_to_key(char)
        app._driver.send_message(events.Key(name, char))


@run_async
async def test_keys_typed_right_after_slash_or_f_all_reach_the_bar(database: Database, tui_desk) -> None:
    from tessera.tui.search_screens import SearchScreen

    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        # / and the filter typed with it, in one burst: every character is in the filter
        burst(app, "/" + "vpn@cust")
        field = screen.query_one("#filter", Input)
        await until(pilot, lambda: field.value == "vpn@cust")
        await until(pilot, lambda: set(screen.queue_pane.rows) == {tui_desk["vpn"]})
        await pilot.press("enter")
        await until(pilot, lambda: app.focused is screen.queue_pane.table and not field.display)
        # letters that are keys of the list go into the filter too (t would take the ticket); the
        # filter shown is selected when / opens it again, so what is typed replaces it
        burst(app, "/" + "xt")
        await until(pilot, lambda: field.value == "xt")
        await pilot.press("escape")
        await until(pilot, lambda: len(screen.queue_pane.rows) == 4)
        assert ticket_state(database, tui_desk["vpn"])["owner"] in (None, "Nobody")
        # F and a query typed at once: the bar opens with all of it, in order
        burst(app, "F" + "#" + str(tui_desk["laptop"]))
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        bar = app.screen.query_one("#search-input", Input)
        await until(pilot, lambda: bar.value == f"#{tui_desk['laptop']}")
        await pilot.press("enter")
        await until(pilot, lambda: screen.ticket_pane.current_id == tui_desk["laptop"])
        # and again from the reading panes, where the focus is after the jump
        burst(app, "F" + "Status")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        bar = app.screen.query_one("#search-input", Input)
        await until(pilot, lambda: bar.value == "Status")


@run_async
async def test_keys_typed_right_after_enter_in_the_search_bar_act_where_it_leads(
    database: Database, tui_desk
) -> None:
    from textual import events

    laptop = tui_desk["laptop"]
    app = make_app(database)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        first = screen.queue_pane.table.highlighted_id
        assert first != laptop
        # F, the ticket's number, enter and r in one burst: r replies to that ticket, not to the
        # row the list had highlighted (before: r was typed into the closing bar and lost)
        burst(app, f"F#{laptop}")
        app._driver.send_message(events.Key("enter", "\r"))
        burst(app, "r")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert display_id(laptop) in str(app.screen.query_one(".title").render())
        await pilot.press(key("compose.discard"))
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        # a query, enter and q at once: the search runs, then q goes back to the queue
        burst(app, "F")
        await until(pilot, lambda: not isinstance(app.screen, MainScreen))
        app.screen.query_one("#search-input", Input).value = "Status = 'open'"
        app._driver.send_message(events.Key("enter", "\r"))
        burst(app, "q")
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and not screen.queue_pane.view.search)
        await settle(pilot)
        assert app.is_running and not screen.queue_pane.view.search
        # from a search, F and a number replace the search shown in the bar: it opens the ticket
        burst(app, "F")
        await until(pilot, lambda: not isinstance(app.screen, MainScreen))
        app.screen.query_one("#search-input", Input).value = "Status = 'open'"
        await pilot.press("enter")
        await until(pilot, lambda: screen.queue_pane.view.search == "Status = 'open'")
        burst(app, f"F#{tui_desk['vpn']}")
        app._driver.send_message(events.Key("enter", "\r"))
        await until(pilot, lambda: screen.ticket_pane.current_id == tui_desk["vpn"])
        assert screen.queue_pane.view.search == "Status = 'open'"


# -- point 8: screen fit at 80 columns ------------------------------------------------------------


@run_async
async def test_footer_keys_follow_a_resize_across_80_columns(database: Database, tui_desk) -> None:
    """Narrowing to 80 columns drops / and F from the footer at once, widening brings them back,
    with no key pressed between (they changed only on the next focus move)."""
    from tessera.tui.footer import QuietFooter

    def actions(footer: QuietFooter) -> set[str]:
        return {str(getattr(key, "action", "")) for key in footer.query("*")}  # a FooterKey's action

    app = make_app(database)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await started(pilot)
        footer = screen.query_one(QuietFooter)
        await until(pilot, lambda: {"filter", "search"} <= actions(footer))
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: footer.compact and not {"filter", "search"} & actions(footer))
        await pilot.resize_terminal(140, 40)
        await until(pilot, lambda: {"filter", "search"} <= actions(footer))


def footer_line(screen: MainScreen) -> str:
    """The bottom row as the terminal shows it: the footer, with whatever overlaps in it."""
    return screen._compositor.render_strips()[-1].text


@run_async
async def test_the_footer_shows_only_whole_keys(database: Database, tui_desk) -> None:
    """At 70 columns `q Back / quit` does not fit before the palette key docked at the right: it
    is left off whole (`?` help lists it). It ran under the palette key, showing `q Back` (a stray
    `/` at 71); narrower, `? He`, and at 40 an `o` past `^p palette`. Wide, the same: at 100
    columns `F Search (TicketSQL)` showed as `F Sea`."""
    from tessera.tui.footer import QuietFooter

    app = make_app(database)
    async with app.run_test(size=(70, 30)) as pilot:
        screen = await started(pilot)
        footer = screen.query_one(QuietFooter)
        shown = "r Reply c Comment s Status t Take X Resolve ? Help"
        await until(pilot, lambda: footer.compact and footer_line(screen).startswith(shown + " "))
        assert footer_line(screen) == shown + " " * 8 + "▏^p palette "
        await pilot.resize_terminal(40, 30)  # narrower still: fewer keys, `? Help` kept
        await until(pilot, lambda: footer_line(screen).startswith("r Reply c Comment ? Help "))
        assert footer_line(screen) == "r Reply c Comment ? Help    ▏^p palette "
        await pilot.resize_terminal(79, 30)  # all of them fit again
        await until(pilot, lambda: "q Back / quit" in footer_line(screen))
        assert footer_line(screen) == shown + " q Back / quit   ▏^p palette "
        await pilot.resize_terminal(100, 30)  # the wide footer, `/` and `F` back if they fit
        wide = " r Reply  c Comment  s Status  t Take  X Resolve  ? Help  q Back / quit  / Filter"
        await until(pilot, lambda: footer_line(screen).startswith(wide))
        assert footer_line(screen) == wide + " " * 7 + "▏^p palette "


@run_async
async def test_at_80_columns_every_column_and_footer_key_fits(database: Database, tui_desk) -> None:
    from tessera.core.tickets import correspond
    from tessera.tui.footer import QuietFooter

    printer = tui_desk["printer"]
    long_line = "word " * 60
    with database.session() as session:
        correspond(open_context(session, "root"), printer, MessageIn(body=f"> {long_line}\n{long_line}"))
    app = make_app(database)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await started(pilot)
        table = screen.queue_pane.table
        await until(pilot, lambda: table.tight)
        labels = [str(c.label) for c in table.columns.values()]
        assert labels == ["  ", "ID", "Subject", "Status", "Owner", "Pri", "Due", "Age", "Upd", "Requestor"]
        used = sum(c.get_render_width(table) for c in table.columns.values())
        assert used <= table.size.width - 2  # the scrollbar's room stays free
        assert screen.query_one(QuietFooter).compact
        # the wide screen keeps the full labels and the two-space gaps
        await pilot.resize_terminal(140, 40)
        await until(pilot, lambda: not table.tight)
        assert "Updated" in [str(c.label) for c in table.columns.values()]
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: table.tight)
        # a long message line wraps under its bar, clear of the scrollbar
        await highlight(pilot, screen, printer)
        await open_highlighted(pilot, screen, printer)
        history = screen.ticket_pane.history
        body = screen.ticket_pane.history.plain
        words = [line for line in body.split("\n") if "word" in line]
        assert len(words) > 4 and all(line.startswith("  │ ") for line in words)
        assert all(len(line) <= history.size.width - 2 for line in words)

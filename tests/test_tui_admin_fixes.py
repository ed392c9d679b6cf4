"""Issue 18 point 7: the admin editor's fixes seen in the trial. A helper the check accepts works
in the dry-run (the check and the dry-run agree on every name, and the help lists them); the
dry-run's Change field shows its default as a value; F6 opens the history from the template box;
the Templates tab shows a template a scrip created; revision numbers agree between the list and
the diff headers; a key map binding one key to two actions is refused, naming the conflict."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from tessera.core.context import open_context
from tessera.core.db import Database
from tessera.core.ids import display_id
from tessera.scrips import checks, editing
from tessera.scrips import revisions as scrip_revisions
from tessera.scrips.draft import dry_run
from tessera.tui.admin.editor import EditorScreen
from tessera.tui.admin.editor_fields import CodeArea
from tessera.tui.admin.revisions_screen import HistoryScreen
from tessera.tui.admin.screen import AdminScreen
from tessera.tui.admin.scrips import ScripAdmin, TemplateAdmin
from tessera.tui.keymap import load_keymap
from tessera.tui.main_screen import MainScreen
from tessera.tui.screens import HelpScreen
from tests import test_tui_admin_scrips as admin_tests
from tests.support.tui import key, run_async, settle, until
from tests.test_tui_admin_scrips import make_app, open_admin, type_into

tui_desk = admin_tests.tui_desk  # the desk made with its scrips running, as the admin runs it

SPEC = {
    "description": "Helper check",
    "stage": "TransactionCreate",
    "condition": {"name": "OnTransaction"},
    "action": {"name": "Notify", "argument": "Requestor"},
    "template": "Helper check",
}

# Each name templates see, used the ways the check accepts: each must render in the dry-run.
USES = {
    "display_id": ["{{ display_id(ticket) }}", "{{ display_id(ticket.id) }}", "{{ display_id('42') }}"],
    "ticket": ["{{ ticket }}", "{{ ticket.requestor }}"],
    "transaction": ["{{ transaction }}", "{{ transaction.description }}"],
    "queue": ["{{ queue }}", "{{ queue.name }}"],
    "actor": ["{{ actor }}", "{{ actor.name }}"],
    "argument": ["{{ argument }}"],
    "scrip": ["{{ scrip.description }}", "{{ scrip }}"],
    "history": ["{% for t in history(2) %}{{ t.type }} {% endfor %}", "{{ history()|length }}"],
    "quote": [
        "{{ quote(transaction.content) }}",
        "{{ quote(transaction) }}",
        "{{ transaction.content|quote }}",
    ],
    "desk": ["{{ desk }}"],
    "range": ["{% for n in range(2) %}{{ n }}{% endfor %}"],
}


def test_every_name_the_check_knows_is_tried_here() -> None:
    assert set(USES) == set(checks.KNOWN_NAMES)


@pytest.mark.parametrize("use", [u for uses in USES.values() for u in uses])
def test_the_check_and_the_dry_run_agree_on_each_name(database: Database, tui_desk, use: str) -> None:
    content = f"Subject: helper\n\n{use}\n"
    assert [p for p in checks.check_template_text(content) if p.severity == "error"] == []
    with database.session() as session:
        plan = dry_run(
            open_context(session, "root"),
            SPEC,
            {"name": "Helper check", "content": content},
            str(tui_desk["printer"]),
            {},
        )
    assert plan["fires"], plan
    assert plan["messages"], plan  # rendered, not refused
    if use.startswith("{{ display_id"):
        wanted = display_id(42) if "'42'" in use else display_id(tui_desk["printer"])
        assert wanted in plan["messages"][0]["body"]


def test_a_helper_called_wrongly_is_refused_by_the_check_with_how_to_call_it() -> None:
    problems = checks.check_template_text("Subject: x\n\n{{ display_id() }}\n")
    assert [p.text() for p in problems if p.severity == "error"] == [
        "line 3: display_id() takes a ticket or its number: display_id(ticket)"
    ]


@run_async
async def test_the_editor_help_documents_every_helper(database: Database, tui_desk) -> None:
    app = make_app(database)
    async with app.run_test(size=(140, 44)) as pilot:
        await open_admin(pilot)
        await pilot.press(key("scrips.new"))
        await until(pilot, lambda: isinstance(app.screen, EditorScreen))
        app.screen.query_one("#ed-condition").focus()
        await pilot.pause()
        await pilot.press("f1")  # (the editor's own _action_help used to shadow action_help)
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = "\n".join(str(s.render()) for s in app.screen.query(Static))
        for name in checks.KNOWN_NAMES:
            assert name in shown, name
        assert "display_id(ticket)" in shown and "quote(text)" in shown and "history(limit)" in shown


@run_async
async def test_the_dry_run_change_shows_its_default_as_a_value(database: Database, tui_desk) -> None:
    app = make_app(database)
    async with app.run_test(size=(140, 44)) as pilot:
        editor = await edit_first_scrip(pilot)
        change = editor.query_one("#dry-change", Input)
        assert change.value == "latest" and not change.placeholder.startswith("status=")
        help_text = str(editor.query_one("#dry-change-help", Static).render())
        assert "latest: the ticket's latest transaction" in help_text
        await type_into(pilot, "#dry-ticket", str(tui_desk["printer"]))
        await pilot.press(key("editor.dry_run"))
        result = editor.query_one("#dry-result", Static)
        await until(pilot, lambda: "latest transaction" in str(result.render()))


async def edit_first_scrip(pilot) -> EditorScreen:  # type: ignore[no-untyped-def]
    await open_admin(pilot)
    scrips = pilot.app.screen.query_one(ScripAdmin)
    scrips.table.focus()
    await pilot.press(key("scrips.edit"))
    await until(pilot, lambda: isinstance(pilot.app.screen, EditorScreen))
    await settle(pilot)
    return pilot.app.screen


@run_async
async def test_f6_opens_the_history_from_the_template_box(database: Database, tui_desk) -> None:
    app = make_app(database)
    async with app.run_test(size=(140, 44)) as pilot:
        editor = await edit_first_scrip(pilot)
        editor.query_one("#ed-template", CodeArea).focus()
        await pilot.pause()
        await pilot.press(key("editor.history"))
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is editor)
        editor.query_one("#ed-expression", CodeArea).display = True
        editor.query_one("#ed-expression", CodeArea).focus()
        await pilot.press(key("editor.history"))
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))


@run_async
async def test_the_templates_tab_shows_a_template_a_scrip_created(database: Database, tui_desk) -> None:
    app = make_app(database)
    async with app.run_test(size=(140, 44)) as pilot:
        admin = await open_admin(pilot)
        await pilot.press(key("admin.tab.2"))
        templates = admin.query_one(TemplateAdmin)
        await until(pilot, lambda: bool(templates.rows))
        await pilot.press(key("admin.tab.1"))
        await settle(pilot)
        await pilot.press(key("scrips.new"))
        await until(pilot, lambda: isinstance(app.screen, EditorScreen))
        await type_into(pilot, "#ed-description", "Uses a new template")
        await type_into(pilot, "#ed-template-name", "Brand new note")
        editor = app.screen
        editor.query_one("#ed-template", CodeArea).load_text("Subject: new\n\nHello {{ ticket.subject }}\n")
        await settle(pilot)
        await pilot.press(key("editor.save"))
        await until(pilot, lambda: editor.scrip_id is not None)
        await pilot.press(key("editor.close"))
        await until(pilot, lambda: isinstance(app.screen, AdminScreen))
        await pilot.press(key("admin.tab.2"))
        await until(pilot, lambda: any(r["name"] == "Brand new note" for r in templates.rows))


@run_async
async def test_revision_numbers_agree_in_the_list_and_the_diff_headers(database: Database, tui_desk) -> None:
    app = make_app(database)
    async with app.run_test(size=(140, 44)) as pilot:
        editor = await edit_first_scrip(pilot)
        scrip_id = editor.scrip_id
        assert scrip_id is not None
        for words in ("first", "second"):
            await type_into(pilot, "#ed-description", f"Renamed {words}")
            await pilot.press(key("editor.save"))
            await settle(pilot)
        await pilot.press(key("editor.history"))
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and bool(app.screen.rows))
        history = app.screen
        labels = [str(o.prompt) for o in history.query_one("#history-revisions").options]
        assert [label.split()[0] for label in labels] == ["v2", "v1"]
        diff = str(history.query_one("#history-diff-body").render())
        assert f"--- scrip {scrip_id} v1" in diff and f"+++ scrip {scrip_id} v2" in diff
        await pilot.press("j")
        diff = str(history.query_one("#history-diff-body").render())
        assert f"--- scrip {scrip_id} (nothing before v1)" in diff and f"+++ scrip {scrip_id} v1" in diff
    with database.session() as session:
        rows = scrip_revisions.revisions(open_context(session, "root"), "scrip", scrip_id)
    assert [r["version"] for r in rows] == [2, 1]
    assert editing is not None


def test_a_keymap_binding_one_key_to_two_actions_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keymap.toml"
    path.write_text('[keys]\nreply = "x"\nresolve = "ctrl+x"\n"queue.sort" = "Q"\n')
    keymap, problems = load_keymap(path)
    # x marks in the ticket list; reply on x too would make one key do two things: refused
    assert "reply" not in keymap and keymap["resolve"] == "ctrl+x"
    assert any("x is bound to both reply" in p and "queue.mark" in p for p in problems), problems
    assert any("Q is bound to both" in p and "queues.pick" in p and "queue.sort" in p for p in problems)
    assert "queue.sort" not in keymap
    # keys in places that never meet (the history pane and the ticket list) are no conflict
    path.write_text('[keys]\n"history.top" = "g"\n"queue.first" = "g"\n')
    assert load_keymap(path)[1] == []


def test_a_keymap_key_textual_never_sends_is_refused_and_repeats_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "keymap.toml"
    path.write_text('[keys]\nresolve = "ctrl+shift+nonsense"\ncomment = "c,c"\nreply = "F5"\n')
    keymap, problems = load_keymap(path)
    assert "resolve" not in keymap and "reply" not in keymap and keymap["comment"] == "c"
    assert any("resolve: 'ctrl+shift+nonsense' is not a key name" in p for p in problems), problems
    assert any("reply: 'F5' is not a key name" in p for p in problems), problems
    path.write_text('[keys]\nresolve = "ctrl+x,alt+pagedown,f19,ctrl+greater_than_sign"\n')
    assert load_keymap(path) == ({"resolve": "ctrl+x,alt+pagedown,f19,ctrl+greater_than_sign"}, [])


@run_async
async def test_the_app_warns_of_a_refused_keymap_and_keeps_the_defaults(
    database: Database, tui_desk, tmp_path: Path
) -> None:
    from tessera.tui.app import TesseraApp
    from tests.support.tui import FIXED_NOW

    path = tmp_path / "keymap.toml"
    path.write_text('[keys]\ncomment = "r"\n')
    app = TesseraApp(lambda: database, user="root", keymap_file=path, clock=lambda: FIXED_NOW)
    async with app.run_test(size=(140, 44)) as pilot:
        await app.main.ready.wait()
        await settle(pilot)
        notes = [str(n.message) for n in app._notifications]
        assert any("r is bound to both" in n and "comment" in n and "reply" in n for n in notes), notes
        assert isinstance(app.screen, MainScreen) and "comment" not in app.keymap


def test_a_dry_run_mail_body_wraps_under_its_bar_at_the_panel_width() -> None:
    """A body line longer than the panel wrapped at column 0, read as text outside the mail."""
    from rich.cells import cell_len

    from tessera.tui.admin.dry_run import render_dry_run

    body = "Dear customer, your ticket about the printer on the third floor has been resolved.\n\nBye"
    plan = {
        "ticket": "TKT-0001",
        "trigger": "Status",
        "fires": True,
        "runs": [],
        "messages": [{"from": "desk@x", "to": ["a@x"], "subject": "Resolved", "body": body}],
    }
    lines = render_dry_run(plan, 40).plain.split("\n")
    assert "  Subject: Resolved" in lines and all(cell_len(line) <= 40 for line in lines[2:-3]), lines
    first = next(i for i, line in enumerate(lines) if "Dear customer" in line)
    mail = lines[first : first + 4]
    assert all(line.startswith("  │ ") and cell_len(line) <= 40 for line in mail), mail
    assert " ".join(line[4:] for line in mail[:3]) == body.split("\n")[0]  # nothing lost at a wrap
    assert mail[3] == "  │ " and lines[first + 4] == "  │ Bye"
    assert render_dry_run(plan).plain.count(body.split("\n")[0]) == 1  # width not known yet: as it is


@run_async
async def test_the_dry_run_in_the_editor_wraps_a_long_body_line_under_its_bar(
    database: Database, tui_desk
) -> None:
    from rich.cells import cell_len

    app = make_app(database)
    async with app.run_test(size=(120, 45)) as pilot:
        editor = await admin_tests.new_scrip_with_broken_template(pilot)
        long_line = "According to our records your request has been resolved and closed by the desk today."
        async with admin_tests.checked(pilot, editor):
            editor.query_one("#ed-template", CodeArea).load_text(f"Subject: Done\n\n{long_line}\n")
        await type_into(pilot, "#dry-ticket", "1")
        await type_into(pilot, "#dry-change", "status=resolved")
        await pilot.press(key("editor.dry_run"))
        result = editor.query_one("#dry-result", Static)
        await until(pilot, lambda: "Mail 1" in str(result.render()))
        await settle(pilot)
        shown = str(result.render()).split("\n")
        mail = shown[shown.index("Mail 1") : shown.index("Nothing was written and nothing was sent.")]
        body = [line for line in mail if line.startswith("  │ ")]
        width = editor.query_one("#dry-scroll").scrollable_content_region.width
        assert len(body) > 1 and all(cell_len(line) <= width for line in mail), (width, mail)
        assert " ".join(line[4:] for line in body) == long_line
        await pilot.resize_terminal(100, 45)  # narrow: the panel goes below, wider; drawn again, fewer rows
        if not editor.has_class("-dry-shown"):
            await pilot.press("f7")
        await until(
            pilot,
            lambda: sum(line.startswith("  │ ") for line in str(result.render()).split("\n")) < len(body),
        )

"""Admin panes for lifecycles, queues and custom fields: core helpers, Pilot tests, snapshots.

Each pane is hosted alone in a small app over a real database with the TUI test desk (root is
SuperUser, alice and bob are agents without admin rights).
Update the snapshots after an intended change with
`pytest tests/test_tui_admin_structure.py --snapshot-update` and review the SVGs.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from rich.console import Console
from sqlalchemy import update
from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import Checkbox, Input, OptionList, Select, Static, TextArea

from tessera.core import customfields, queues
from tessera.core.context import open_context
from tessera.core.customfield_admin import update_field
from tessera.core.db import Database
from tessera.core.errors import InvalidInput, PermissionDenied
from tessera.core.lifecycles.check import check_lifecycle, error_line
from tessera.core.lifecycles.store import apply_lifecycle, export_lifecycle
from tessera.core.models import LifecycleRecord, Queue
from tessera.core.queue_watchers import add_queue_watcher, list_queue_watchers, remove_queue_watcher
from tessera.core.tickets import set_custom_field_values
from tessera.tui.admin.customfields import CustomFieldAdmin
from tessera.tui.admin.lifecycles import LifecycleAdmin
from tessera.tui.admin.queues import QueueAdmin
from tessera.tui.backend import Backend
from tessera.tui.safe import clean_line
from tessera.tui.themes import DARK, LIGHT, THEMES
from tests.support.desks import HOSTILE_SUBJECT
from tests.support.tui import FIXED_NOW, run_async, settle, type_text, until

ACTIVE_ADDED = "active: [open, stalled, waiting]"
BAD_STATUS = "transitions.new[0]: status 'nowhere' is in no category (initial, active or inactive)"


class Host(App[None]):
    """One admin pane, alone, in the Tessera themes."""

    def __init__(self, make: Callable[[], Widget], theme: str = LIGHT) -> None:
        super().__init__()
        self.make = make
        self.wanted_theme = theme

    def compose(self) -> ComposeResult:
        yield self.make()

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = self.wanted_theme


@pytest.fixture
def tui_desk(tui_desk: dict[str, int], database: Database) -> dict[str, int]:
    """The TUI desk, its lifecycles last changed at FIXED_NOW (the panes show when)."""
    with database.session() as session:
        session.execute(update(LifecycleRecord).values(updated=FIXED_NOW))
        session.commit()
    return tui_desk


def plain(app: App[None], selector: str) -> str:
    """What a Static shows, as plain text (its Rich renderable printed without styles)."""
    console = Console(width=200, file=io.StringIO(), color_system=None, record=True)
    console.print(app.query_one(selector, Static).content)
    return console.export_text()


def status_text(app: App[None], selector: str) -> str:
    return plain(app, selector).strip()


async def pick(pilot, pane: LifecycleAdmin, name: str) -> None:
    """Highlight lifecycle `name` in the list with the arrow keys."""
    pane.list.focus()
    names = [s.name for s in pane.summaries]
    for _ in range(names.index(name) - (pane.list.highlighted or 0)):
        await pilot.press("down")
    await until(pilot, lambda: pane.detail is not None and pane.detail.lifecycle.name == name)
    await settle(pilot)


# -- core: dry-run of apply, queue watchers, custom field changes, rights ---------------------------


def ctx_for(database: Database, user: str):
    session = database.session()
    return open_context(session, user)


def default_yaml(database: Database) -> str:
    ctx = ctx_for(database, "root")
    try:
        return export_lifecycle(ctx, "default")
    finally:
        ctx.session.close()


def test_check_lifecycle_says_what_apply_says_and_saves_nothing(database: Database, tui_desk) -> None:
    stored = default_yaml(database)
    bad = stored.replace("  new: [open,", "  new: [nowhere, open,", 1)
    ctx = ctx_for(database, "root")
    try:
        found = check_lifecycle(ctx, bad)
        assert not found.ok
        assert found.message == BAD_STATUS
        assert bad.splitlines()[found.line - 1].startswith("  new: [nowhere,")
        with pytest.raises(InvalidInput) as refused:
            apply_lifecycle(ctx, bad)
        assert refused.value.message == BAD_STATUS
        good = stored.replace("active: [open, stalled]", ACTIVE_ADDED)
        found = check_lifecycle(ctx, good)
        assert found.ok and found.result == "replaced" and found.name == "default"
        assert any("waiting" in w and "cannot be reached" in w for w in found.warnings)
        assert check_lifecycle(ctx, stored).result == "unchanged"
        broken = check_lifecycle(ctx, "name: x\ninitial: [new\n")
        assert broken.line == 3
        assert broken.message.startswith("line 3, column 1: not valid YAML or JSON")
    finally:
        ctx.session.close()
    assert default_yaml(database) == stored  # nothing was saved
    ctx = ctx_for(database, "alice")
    try:
        denied = check_lifecycle(ctx, stored)
        assert denied.message == "alice may not apply lifecycles on this desk (needs AdminLifecycles)"
    finally:
        ctx.session.close()


def test_error_line_follows_paths() -> None:
    text = "name: x\ninitial: [new]\nrights:\n  '* -> *': Bad Right\nactions:\n  - {from: new, to: y}\n"
    assert error_line(text, "rights[\"* -> *\"]: right name 'Bad Right' must be ...") == 4
    assert error_line(text, "actions[0].to: status 'y' is in no category") == 6
    assert error_line(text, "line 3, column 2: not valid YAML or JSON: x") == 3
    assert error_line(text, "(top level): expected a mapping") is None


def test_queue_watchers_core(database: Database, tui_desk) -> None:
    ctx = ctx_for(database, "root")
    try:
        assert add_queue_watcher(ctx, "General", "admincc", "alice") is True
        assert add_queue_watcher(ctx, "General", "AdminCc", "alice") is False
        assert add_queue_watcher(ctx, "General", "Cc", "boss@customer.example") is True
        found = [(w.role, w.name) for w in list_queue_watchers(ctx, "general")]
        assert found == [("AdminCc", "alice"), ("Cc", "boss@customer.example")]
        with pytest.raises(InvalidInput, match="unknown queue watcher role 'Owner'"):
            add_queue_watcher(ctx, "General", "Owner", "bob")
        remove_queue_watcher(ctx, "General", "Cc", "boss@customer.example")
        assert [w.name for w in list_queue_watchers(ctx, "General")] == ["alice"]
    finally:
        ctx.session.close()
    ctx = ctx_for(database, "bob")
    try:
        with pytest.raises(PermissionDenied, match="needs AdminQueue or ModifyQueueWatchers"):
            add_queue_watcher(ctx, "General", "Cc", "bob")
        with pytest.raises(PermissionDenied):
            remove_queue_watcher(ctx, "General", "AdminCc", "alice")
    finally:
        ctx.session.close()


def test_update_field_core(database: Database, tui_desk) -> None:
    ctx = ctx_for(database, "root")
    try:
        customfields.create_field(ctx, "Severity", type_="select", values=["low", "high"])
        customfields.create_field(ctx, "Asset", queue="General", multiple=True)
        cf = update_field(ctx, "severity", new_name="Impact", values=["high", "medium", "low"])
        assert cf.name == "Impact" and [o.value for o in cf.options] == ["high", "medium", "low"]
        cf = update_field(ctx, "Impact", pattern="[a-z]+", queue="Network", disabled=True)
        assert cf.pattern == "[a-z]+" and cf.queue_id is not None and cf.disabled
        cf = update_field(ctx, "Impact", pattern=None, queue=None, disabled=False)
        assert cf.pattern is None and cf.queue_id is None and not cf.disabled
        with pytest.raises(InvalidInput, match="needs at least one allowed value"):
            update_field(ctx, "Impact", values=[" "])
        with pytest.raises(InvalidInput, match="only make sense for a select field"):
            update_field(ctx, "Asset", values=["x"])
        with pytest.raises(InvalidInput, match="not a valid regular expression"):
            update_field(ctx, "Asset", pattern="(")
        with pytest.raises(InvalidInput, match="already exists"):
            update_field(ctx, "Asset", new_name="impact")
        set_custom_field_values(ctx, tui_desk["printer"], "Asset", ["pc-1", "pc-2"])
        with pytest.raises(InvalidInput, match="tickets with several values"):
            update_field(ctx, "Asset", multiple=False)
    finally:
        ctx.session.close()
    ctx = ctx_for(database, "alice")
    try:
        with pytest.raises(PermissionDenied, match="needs AdminCustomField"):
            update_field(ctx, "Asset", description="mine")
        with pytest.raises(PermissionDenied, match="needs AdminCustomField"):
            customfields.create_field(ctx, "Mine")
        with pytest.raises(PermissionDenied, match="needs AdminQueue"):
            queues.create_queue(ctx, "Mine")
        with pytest.raises(PermissionDenied, match="needs AdminQueue"):
            queues.update_queue(ctx, "General", {"description": "mine"})
    finally:
        ctx.session.close()


# -- lifecycle pane -------------------------------------------------------------------------------


@run_async
async def test_lifecycle_edit_error_then_save(database: Database, tui_desk: dict[str, int]) -> None:
    app = Host(lambda: LifecycleAdmin(Backend(database, "root")))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.query_one(LifecycleAdmin)
        await until(pilot, lambda: pane.detail is not None)
        await pick(pilot, pane, "default")
        assert "(create)" in plain(app, "#lc-detail")
        await pilot.press("e")
        await until(pilot, lambda: pane.editing == "default")
        editor = app.query_one("#lc-editor", TextArea)
        assert app.focused is editor
        bad = editor.text.replace("  new: [open,", "  new: [nowhere, open,", 1)
        assert bad != editor.text
        editor.load_text(bad)
        await until(pilot, lambda: BAD_STATUS in status_text(app, "#lc-status"))
        await settle(pilot)
        line = 1 + bad.splitlines().index(next(x for x in bad.splitlines() if "nowhere" in x))
        assert status_text(app, "#lc-status").startswith(f"✗ line {line}: {BAD_STATUS}")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert BAD_STATUS in status_text(app, "#lc-status")
        assert pane.editing == "default"
        # a valid version: checked as typed (not saved), then saved with ctrl+s
        good = editor.text.replace("nowhere, ", "").replace("active: [open, stalled]", ACTIVE_ADDED)
        editor.load_text(good)
        await until(pilot, lambda: "valid, not saved" in status_text(app, "#lc-status"))
        assert "waiting" in status_text(app, "#lc-status")  # the unreachable-status warning
        assert ACTIVE_ADDED not in default_yaml(database)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: pane.editing is None)
        await settle(pilot)
        assert status_text(app, "#lc-status").startswith("✓ replaced lifecycle default")
        assert ACTIVE_ADDED in default_yaml(database)
        assert "waiting" in plain(app, "#lc-detail")  # re-listed and shown
        assert app.focused is pane.list


@run_async
async def test_lifecycle_escape_asks_before_discarding(database: Database, tui_desk: dict[str, int]) -> None:
    """Like the scrip editor: esc with unsaved changes asks; n keeps editing, y discards."""
    from tessera.tui.screens import ConfirmScreen

    app = Host(lambda: LifecycleAdmin(Backend(database, "root")))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.query_one(LifecycleAdmin)
        await until(pilot, lambda: pane.detail is not None)
        await pick(pilot, pane, "default")
        await pilot.press("enter")
        await until(pilot, lambda: pane.editing == "default")
        editor = app.query_one("#lc-editor", TextArea)
        editor.move_cursor((0, 0))
        await pilot.press("#", " ", "n", "o", "t", "e", "enter")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # keep editing
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await settle(pilot)
        assert pane.editing == "default" and editor.text.startswith("# note\n")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")  # discard
        await until(pilot, lambda: pane.editing is None)
        await settle(pilot)
        assert app.focused is pane.list
        assert "discarded" in status_text(app, "#lc-status")
        await pilot.press("e")
        await until(pilot, lambda: pane.editing == "default")
        assert not editor.text.startswith("#")
        await pilot.press("escape")  # nothing changed: no question
        await until(pilot, lambda: pane.editing is None)
        assert "nothing changed" in status_text(app, "#lc-status")


@run_async
async def test_narrow_panes_wrap_the_status_and_keep_the_type_column(database: Database, tui_desk) -> None:
    """At 80x24 a long status line wraps, and the custom field table keeps its Type column whole."""
    app = Host(lambda: LifecycleAdmin(Backend(database, "root")))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.query_one(LifecycleAdmin)
        await until(pilot, lambda: pane.detail is not None)
        pane.say("valid, not saved; warning: status 'pending' cannot be reached: no transition leads to it")
        await settle(pilot)
        assert app.query_one("#lc-status").size.height >= 2
        # The transitions grid is not cut: the view scrolls sideways instead.
        await pick(pilot, pane, "default")
        await settle(pilot)
        view = app.query_one("#lc-view")
        grid_width = app.query_one("#lc-detail").size.width
        assert grid_width > view.size.width and view.max_scroll_x > 0
    app = Host(lambda: CustomFieldAdmin(Backend(database, "root")))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.query_one(CustomFieldAdmin)
        await until(pilot, lambda: pane.powers is not None)
        await settle(pilot)
        # The form no longer takes 56 of the 80 columns: the list keeps room for Name and Type.
        assert pane.table.size.width >= 40, pane.table.size


@run_async
async def test_lifecycle_pane_refuses_a_non_admin(database: Database, tui_desk: dict[str, int]) -> None:
    app = Host(lambda: LifecycleAdmin(Backend(database, "alice")))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.query_one(LifecycleAdmin)
        await until(pilot, lambda: pane.detail is not None)
        note = status_text(app, "#lc-note")
        assert note == "Read only: alice may not change lifecycles (needs AdminLifecycles or SuperUser)."
        pane.list.focus()
        await pilot.press("e")
        await pilot.press("n")
        await settle(pilot)
        assert pane.editing is None
        assert not app.query_one("#lc-edit").display or app.query_one("#lc-switch").current == "lc-view"
        assert status_text(app, "#lc-status") == (
            "✗ alice may not change lifecycles (needs AdminLifecycles or SuperUser)"
        )


# -- queue pane -----------------------------------------------------------------------------------


def queue_row(database: Database, name: str) -> queues.Queue:
    ctx = ctx_for(database, "root")
    try:
        found = queues.get_queue(ctx, name)
        ctx.session.expunge(found)
        return found
    finally:
        ctx.session.close()


@run_async
async def test_queue_create_change_lifecycle_disable_and_watchers(database: Database, tui_desk) -> None:
    app = Host(lambda: QueueAdmin(Backend(database, "root")))
    async with app.run_test(size=(140, 44)) as pilot:
        await settle(pilot)
        pane = app.query_one(QueueAdmin)
        await until(pilot, lambda: pane.current is not None)
        assert [r.name for r in pane.rows] == ["General", "Network"]
        pane.table.focus()
        await pilot.press("n")
        await settle(pilot)
        assert app.focused is app.query_one("#q-name", Input)
        await type_text(pilot, "Facilities")
        await pilot.press("tab")
        await type_text(pilot, "Doors and desks")
        await pilot.press("tab")
        await type_text(pilot, "Facilities@Desk.Example")
        await pilot.press("enter")
        await until(pilot, lambda: "created queue Facilities" in status_text(app, "#q-status"))
        await settle(pilot)
        assert [r.name for r in pane.rows] == ["Facilities", "General", "Network"]
        assert pane.current is not None and pane.current.name == "Facilities"
        created = queue_row(database, "Facilities")
        assert created.description == "Doors and desks"
        assert created.correspond_address == "Facilities@desk.example"  # core keeps the local part
        assert created.lifecycle == "default"

        # change its lifecycle from the keyboard: tab to the select, open it, pick, save
        await pilot.press("e")
        assert app.focused is app.query_one("#q-name", Input)
        await pilot.press("tab", "tab", "tab", "tab")
        assert app.focused is app.query_one("#q-lifecycle", Select)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("up", "enter")  # approvals sorts before default
        await settle(pilot)
        assert app.query_one("#q-lifecycle", Select).value == "approvals"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "saved queue Facilities: lifecycle" in status_text(app, "#q-status"))
        assert queue_row(database, "Facilities").lifecycle == "approvals"

        # disable it with the checkbox
        await pilot.press("e", "tab", "tab", "tab", "tab", "tab")
        assert app.focused is app.query_one("#q-disabled", Checkbox)
        await pilot.press("space", "ctrl+s")
        await until(pilot, lambda: "saved queue Facilities: disabled" in status_text(app, "#q-status"))
        assert queue_row(database, "Facilities").disabled is True
        await settle(pilot)
        assert "disabled" in str(pane.table.get_row_at(0)[3])

        # watchers: add alice as AdminCc, then a Cc by address, then remove alice
        who = app.query_one("#q-watch-who", Input)
        who.focus()
        await type_text(pilot, "alice")
        await pilot.press("enter")
        await until(pilot, lambda: [w.name for w in pane.watchers] == ["alice"])
        assert status_text(app, "#q-status") == "✓ added alice as AdminCc of queue Facilities"
        app.query_one("#q-watch-role", Select).value = "Cc"
        who.focus()
        await type_text(pilot, "boss@customer.example")
        await pilot.press("enter")
        await until(pilot, lambda: len(pane.watchers) == 2)
        app.query_one("#q-watchers", OptionList).focus()
        await pilot.press("home", "d")
        await until(pilot, lambda: [w.name for w in pane.watchers] == ["boss@customer.example"])

        # an error is one line in the pane: a queue name that is taken
        pane.table.focus()
        await pilot.press("n")
        await type_text(pilot, "general")
        await pilot.press("enter")
        await until(pilot, lambda: "already exists" in status_text(app, "#q-status"))
        assert status_text(app, "#q-status") == "✗ a queue named 'general' already exists"
        await pilot.press("escape")
        assert app.focused is pane.table and not pane.creating


@run_async
async def test_queue_pane_refuses_a_non_admin(database: Database, tui_desk) -> None:
    ctx = ctx_for(database, "root")
    with pytest.raises(InvalidInput, match="a queue name may not contain control characters"):
        queues.create_queue(ctx, HOSTILE_SUBJECT, description=HOSTILE_SUBJECT)
    # A desk made before names were checked (or a database edited by hand) may hold one still.
    ctx.session.add(Queue(name=HOSTILE_SUBJECT, description=HOSTILE_SUBJECT))
    ctx.session.commit()
    ctx.session.close()
    app = Host(lambda: QueueAdmin(Backend(database, "bob")))
    async with app.run_test(size=(140, 44)) as pilot:
        await settle(pilot)
        pane = app.query_one(QueueAdmin)
        await until(pilot, lambda: pane.current is not None)
        # a hostile name shows literally: brackets kept, escape sequences gone, nothing styled
        shown = pane.table.get_row_at(0)[0]
        assert str(shown) == clean_line(HOSTILE_SUBJECT) and "\x1b" not in str(shown)
        assert shown.spans == []
        pane.table.move_cursor(row=1)
        await settle(pilot)
        assert pane.current is not None and pane.current.name == "General"
        assert not app.query_one("#q-watch-add").display
        assert status_text(app, "#q-note") == (
            "Read only: bob may not change queues (needs AdminQueue or SuperUser)."
        )
        assert not app.query_one("#q-form").display
        assert status_text(app, "#q-refusal") == (
            "bob may not change queue General (needs AdminQueue or SuperUser)"
        )
        pane.table.focus()
        await pilot.press("n")
        await settle(pilot)
        assert not pane.creating
        assert status_text(app, "#q-status") == (
            "✗ bob may not create queues (needs AdminQueue or SuperUser)"
        )


# -- custom field pane ----------------------------------------------------------------------------


def field_named(database: Database, name: str):
    ctx = ctx_for(database, "root")
    try:
        cf = customfields.get_field(ctx, name)
        return cf.type, [o.value for o in cf.options], cf.pattern, cf.queue_id, cf.disabled, cf.multiple
    finally:
        ctx.session.close()


@run_async
async def test_custom_field_create_and_edit(database: Database, tui_desk) -> None:
    app = Host(lambda: CustomFieldAdmin(Backend(database, "root")))
    async with app.run_test(size=(140, 48)) as pilot:
        await settle(pilot)
        pane = app.query_one(CustomFieldAdmin)
        assert pane.rows == [] and pane.powers is not None
        pane.table.focus()
        await pilot.press("n")
        await settle(pilot)
        assert app.focused is app.query_one("#cf-name", Input)
        await type_text(pilot, "Severity")
        await pilot.press("tab")
        assert app.focused is app.query_one("#cf-type", Select)
        await pilot.press("enter", "down", "enter")  # freeform -> select
        await settle(pilot)
        assert app.query_one("#cf-type", Select).value == "select"
        await pilot.press("tab", "tab")  # past "multiple", into the values
        assert app.focused is app.query_one("#cf-values", TextArea)
        await type_text(pilot, "low")
        await pilot.press("enter")
        await type_text(pilot, "high")
        await pilot.press("tab", "tab")  # past the pattern, to "applies to"
        assert app.focused is app.query_one("#cf-queue", Select)
        await pilot.press("enter", "down", "enter")  # All queues -> General
        await settle(pilot)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "created custom field Severity" in status_text(app, "#cf-status"))
        await settle(pilot)
        kind, values, pattern, queue_id, disabled, multiple = field_named(database, "Severity")
        assert (kind, values, pattern, disabled, multiple) == ("select", ["low", "high"], None, False, False)
        assert queue_id == queue_row(database, "General").id
        assert [r.name for r in pane.rows] == ["Severity"]
        assert str(pane.table.get_row_at(0)[2]) == "General"

        # a bad pattern: the one-line refusal of core
        pane.table.focus()
        await pilot.press("n")
        await type_text(pilot, "Code")
        app.query_one("#cf-pattern", Input).focus()
        await type_text(pilot, "(")
        await pilot.press("enter")
        await until(pilot, lambda: "not a valid regular expression" in status_text(app, "#cf-status"))
        assert status_text(app, "#cf-status").startswith("✗ pattern '(' is not a valid regular expression")
        await pilot.press("escape")
        assert app.focused is pane.table and not pane.creating

        # edit: a third value, then disable
        await pilot.press("enter")
        values_box = app.query_one("#cf-values", TextArea)
        values_box.focus()
        values_box.move_cursor(values_box.document.end)
        await pilot.press("enter")
        await type_text(pilot, "urgent")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "saved custom field Severity: values" in status_text(app, "#cf-status"))
        assert field_named(database, "Severity")[1] == ["low", "high", "urgent"]
        await settle(pilot)
        await pilot.press("e")
        app.query_one("#cf-disabled", Checkbox).focus()
        await pilot.press("space", "ctrl+s")
        await until(pilot, lambda: "saved custom field Severity: disabled" in status_text(app, "#cf-status"))
        assert field_named(database, "Severity")[4] is True


@run_async
async def test_custom_field_pane_refuses_a_non_admin(database: Database, tui_desk) -> None:
    ctx = ctx_for(database, "root")
    customfields.create_field(ctx, "Asset")
    ctx.session.close()
    app = Host(lambda: CustomFieldAdmin(Backend(database, "alice")))
    async with app.run_test(size=(140, 48)) as pilot:
        await settle(pilot)
        pane = app.query_one(CustomFieldAdmin)
        await until(pilot, lambda: pane.current is not None)
        refusal = "alice may not change custom fields (needs AdminCustomField or SuperUser)"
        assert status_text(app, "#cf-note") == f"Read only: {refusal}."
        assert not app.query_one("#cf-form").display
        assert status_text(app, "#cf-refusal") == refusal
        pane.table.focus()
        await pilot.press("n")
        await settle(pilot)
        assert not pane.creating
        assert status_text(app, "#cf-status") == f"✗ {refusal}"


# -- snapshots ------------------------------------------------------------------------------------


def snapshot_host(database: Database, theme: str) -> Host:
    return Host(lambda: LifecycleAdmin(Backend(database, "root")), theme=theme)


async def default_shown(pilot) -> None:
    pane = pilot.app.query_one(LifecycleAdmin)
    await until(pilot, lambda: pane.detail is not None)
    await pick(pilot, pane, "default")
    await pilot.pause()


async def editor_with_error(pilot) -> None:
    await default_shown(pilot)
    pane = pilot.app.query_one(LifecycleAdmin)
    await pilot.press("e")
    await until(pilot, lambda: pane.editing == "default")
    pane.editor.cursor_blink = False
    pane.editor.load_text(pane.editor.text.replace("  new: [open,", "  new: [nowhere, open,", 1))
    await until(pilot, lambda: BAD_STATUS in status_text(pilot.app, "#lc-status"))
    await settle(pilot)


@pytest.mark.parametrize("theme", [LIGHT, DARK])
def test_lifecycle_pane_snapshot(snap_compare, database: Database, tui_desk, theme: str) -> None:
    pytest.importorskip("pytest_textual_snapshot")
    assert snap_compare(snapshot_host(database, theme), terminal_size=(120, 44), run_before=default_shown)


def test_lifecycle_editor_snapshot(snap_compare, database: Database, tui_desk) -> None:
    pytest.importorskip("pytest_textual_snapshot")
    assert snap_compare(snapshot_host(database, LIGHT), terminal_size=(120, 36), run_before=editor_with_error)

"""The admin area: one screen with tabs (Scrips, Templates, Lifecycles, Queues, Custom fields).

Opened with F9 or the command palette ("Admin"). Core decides who gets in (`scrips.access.access`):
a user with none of the admin rights gets a one-line notification and stays on the main screen.
Each tab is a widget constructed with the main screen's `Backend`; digits 1-5 switch tabs, escape
or q leave.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, OptionList, Static, TabbedContent, TabPane

from tessera.tui import safe
from tessera.tui.actions import bindings, bindings_for
from tessera.tui.admin import scrip_ops as ab
from tessera.tui.admin.customfields import CustomFieldAdmin
from tessera.tui.admin.lifecycles import LifecycleAdmin
from tessera.tui.admin.queues import QueueAdmin
from tessera.tui.admin.scrips import ScripAdmin, TemplateAdmin
from tessera.tui.backend import Backend
from tessera.tui.footer import QuietFooter
from tessera.tui.keyhold import release_keys

# The tabs after Scrips and Templates: (id, title, the pane, made with the screen's Backend).
OTHER_TABS: tuple[tuple[str, str, Callable[[Backend], Widget]], ...] = (
    ("tab-lifecycles", "Lifecycles", LifecycleAdmin),
    ("tab-queues", "Queues", QueueAdmin),
    ("tab-customfields", "Custom fields", CustomFieldAdmin),
)


class AdminTabs(TabbedContent):
    """The tabs follow the digits, the arrows and the mouse, not the focus: a tab's list focused as
    the area opened could land after `3` had chosen Lifecycles, and TabbedContent then switched back
    to the tab holding the focus (F9 3 typed at once showed Scrips on a loaded machine). Focus
    never moves into another tab here but with its tab."""

    def _on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        event.prevent_default()  # (TabbedContent's own handler would make the pane active)
        event.stop()


class AdminScreen(Screen[None]):
    CSS_PATH = "admin.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [*bindings("admin"), *bindings_for("help")]

    def __init__(self, backend: Backend, access: dict[str, bool] | None = None) -> None:
        super().__init__(id="admin")
        self.backend = backend
        self.access = access or {}

    def compose(self) -> ComposeResult:
        bar = Text()
        bar.append(" Tessera admin ", style="bold reverse")
        bar.append("  user ")
        bar.append(safe.clean_line(self.backend.user or "?"), style="bold")
        bar.append("   1-5 tabs · esc/q back · ? help", style="dim")
        yield Static(bar, id="admin-topbar")
        with AdminTabs(id="admin-tabs"):
            with TabPane("1 Scrips", id="tab-scrips"):
                yield ScripAdmin(self.backend, id="scrip-admin")
            with TabPane("2 Templates", id="tab-templates"):
                yield TemplateAdmin(self.backend, id="template-admin")
            for n, (tab_id, title, pane) in enumerate(OTHER_TABS, start=3):
                with TabPane(f"{n} {title}", id=tab_id):
                    yield pane(self.backend)
        yield QuietFooter()

    def on_mount(self) -> None:
        self.call_after_refresh(self._focus_tab)

    def _focus_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        pane = tabs.get_pane(tabs.active) if tabs.active else None
        if pane is None:
            return
        lists = [w for w in pane.query("DataTable, OptionList") if w.focusable and w.display]
        target = lists[0] if lists else next((w for w in pane.query("*") if w.focusable), None)
        if target is not None:
            target.focus()
        release_keys(self.app)  # keys typed with F9 (held since) now act in the admin area

    def action_tab(self, number: int) -> None:
        tabs = self.query_one(TabbedContent)
        panes = list(tabs.query(TabPane))
        if 1 <= number <= len(panes):
            tabs.active = panes[number - 1].id or ""
            self.call_after_refresh(self._focus_tab)

    def action_list(self, where: str) -> None:
        """j/k/g/G in the focused list of a tab (a table or an option list); elsewhere nothing."""
        focused = self.focused
        if isinstance(focused, DataTable):
            if where in ("down", "up"):
                (focused.action_cursor_down if where == "down" else focused.action_cursor_up)()
            elif focused.row_count:
                focused.move_cursor(row=0 if where == "top" else focused.row_count - 1)
        elif isinstance(focused, OptionList) and focused.option_count:
            if where == "down":
                focused.action_cursor_down()
            elif where == "up":
                focused.action_cursor_up()
            else:
                focused.highlighted = 0 if where == "top" else focused.option_count - 1

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.call_after_refresh(self._focus_tab)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_help(self) -> None:
        from tessera.tui.keymap import keymap_path
        from tessera.tui.screens import HelpScreen

        keymap: dict[str, str] = getattr(self.app, "keymap", {})
        self.app.push_screen(HelpScreen(keymap, str(keymap_path())))


async def open_admin(app: App[Any], backend: Backend) -> None:
    """F9 / palette: the admin area, for those whose rights let them in (core decides; a refusal
    is shown as one line and the main screen stays)."""
    try:
        access = await backend.ask(ab.access)
    except BaseException:
        release_keys(app)
        raise
    if access is None:
        release_keys(app)  # refused (said in one line): the keys typed after F9 act here
        return
    app.push_screen(AdminScreen(backend, access))  # its first tab's list, once focused, gets them

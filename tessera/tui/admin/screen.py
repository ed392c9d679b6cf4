"""The admin area: one screen with tabs (Scrips, Templates, Lifecycles, Queues, Custom fields).

Opened with F9 or the command palette ("Admin"). Core decides who gets in (`scrips.admin.access`):
a user with none of the admin rights gets a one-line notification and stays on the main screen.
Each tab is a widget constructed with the main screen's `Backend`; digits 1-5 switch tabs, escape
or q leave.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, OptionList, Static, TabbedContent, TabPane

from tessera.tui import safe
from tessera.tui.actions import bindings, bindings_for
from tessera.tui.admin import backend as ab
from tessera.tui.admin.scrips import ScripAdmin, TemplateAdmin
from tessera.tui.backend import Backend
from tessera.tui.footer import QuietFooter

if TYPE_CHECKING:
    from tessera.tui.app import MainScreen


def _other_tabs() -> list[tuple[str, str, type[Widget]]]:
    """The panes another part of the admin area provides, when installed."""
    found: list[tuple[str, str, type[Widget]]] = []
    for module, name, tab_id, title in (
        ("tessera.tui.admin.lifecycles", "LifecycleAdmin", "tab-lifecycles", "Lifecycles"),
        ("tessera.tui.admin.queues", "QueueAdmin", "tab-queues", "Queues"),
        ("tessera.tui.admin.customfields", "CustomFieldAdmin", "tab-customfields", "Custom fields"),
    ):
        try:
            imported = __import__(module, fromlist=[name])
            found.append((tab_id, title, getattr(imported, name)))
        except (ImportError, AttributeError):
            continue
    return found


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
        with TabbedContent(id="admin-tabs"):
            with TabPane("1 Scrips", id="tab-scrips"):
                yield ScripAdmin(self.backend, id="scrip-admin")
            with TabPane("2 Templates", id="tab-templates"):
                yield TemplateAdmin(self.backend, id="template-admin")
            for n, (tab_id, title, widget) in enumerate(_other_tabs(), start=3):
                with TabPane(f"{n} {title}", id=tab_id):
                    yield widget(self.backend)
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


async def _open(main: MainScreen) -> None:
    if main.backend is None:
        return
    access: Any = await main.db(ab.access, main.backend)
    if access is None:  # refused: core's one-line reason is already showing
        return
    main.app.push_screen(AdminScreen(main.backend, access))


def open_admin(main: MainScreen) -> None:
    """F9 / palette: the admin area, for those whose rights let them in."""
    main.run_worker(_open(main), group="admin-open", exclusive=True)

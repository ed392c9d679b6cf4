"""Lifecycle admin: the lifecycles, each shown readably, and a YAML editor that saves through
`apply_lifecycle` (the checks and the words of `tessera lifecycle apply`), validating as you type.

Keys (the list focused): enter/e edit, n new (a copy of the highlighted one), ctrl+r reload.
In the editor: ctrl+s save, escape leave (with unsaved changes: y discards them, n keeps editing,
the same as the scrip editor),
ctrl+r reload the stored definition. Tab moves between the list and the editor.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import ContentSwitcher, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from tessera.core.errors import TesseraError
from tessera.core.lifecycles import grid
from tessera.core.lifecycles.model import Lifecycle
from tessera.core.lifecycles.rules import CATEGORIES
from tessera.tui import safe
from tessera.tui.actions import bindings
from tessera.tui.admin import structure_ops as sb
from tessera.tui.backend import Backend
from tessera.tui.styles import stylesheet

CHECK_DELAY = 0.4
NEW = "\x00new"  # the draft key of a lifecycle not saved yet


def set_status(widget: Static, message: str, kind: str = "info") -> None:
    """One line, prefixed so the kind does not rest on colour alone: ✗ error, ✓ done, · note."""
    mark = {"error": "✗ ", "ok": "✓ "}.get(kind, "· ")
    widget.set_class(kind == "error", "-error")
    widget.set_class(kind == "ok", "-ok")
    widget.update(safe.line(mark + message) if message else Text(""))


def _table(*headers: str, wrap_last: bool = False) -> Table:
    """A borderless table; every column keeps its width, the last may wrap (long lists)."""
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), show_edge=False)
    for n, header in enumerate(headers):
        last = n == len(headers) - 1
        table.add_column(
            Text(header, style="bold"),
            no_wrap=not (wrap_last and last),
            min_width=None if last else len(header),
            overflow="fold" if wrap_last and last else "ellipsis",
        )
    return table


def render_lifecycle(lifecycle: Lifecycle, queues: list[str]) -> RenderableType:
    """Statuses by category, the transitions grid with the right each asks, the next statuses as
    lists, the rights rules, the actions and the maps; every value shown literally."""
    d = lifecycle.display
    parts: list[RenderableType] = []
    title = Text(safe.clean_line(lifecycle.name), style="bold")
    title.append(" · used by ", style="dim")
    title.append(safe.clean_line(", ".join(queues)) if queues else "no queue")
    parts.append(title)
    parts.append(Text(""))

    cats = _table("CATEGORY", "STATUSES", wrap_last=True)
    for category in CATEGORIES:
        cats.add_row(Text(category), safe.line(", ".join(getattr(lifecycle, category)) or "-"))
    defaults = lifecycle.defaults.model_dump(exclude_none=True)
    cats.add_row(Text("defaults"), safe.line(", ".join(f"{k}={d(v)}" for k, v in defaults.items())))
    parts += [cats, Text("")]

    statuses = list(lifecycle.statuses)
    codes = grid.grid_codes(lifecycle)
    table = _table("FROM \\ TO", *(safe.clean_line(d(s)) for s in statuses))
    for from_status, marks in grid.grid_cells(lifecycle, codes):
        cells = [Text(m, style="dim" if m in (grid.SAME, grid.NOT_ALLOWED) else "bold") for m in marks]
        label = safe.line(d(from_status)) if from_status else Text(grid.CREATION_ROW, style="italic")
        table.add_row(label, *cells)
    parts.append(Text("Transitions (rows: from, columns: to; the letter is the right it needs)", "bold"))
    parts.append(Text("wide? ←/→ scroll it (the view focused)", "dim"))
    parts.append(table)
    parts.append(safe.line(grid.legend(codes), "dim"))
    parts.append(Text(""))

    parts.append(Text("Next statuses", style="bold"))
    for from_status in ["", *statuses]:
        targets = lifecycle.next_statuses(from_status)
        line = Text("  ")
        line.append(safe.clean_line(d(from_status)) if from_status else "(create)")
        line.append(" → ")
        line.append(safe.clean_line(", ".join(d(t) for t in targets)) or "nothing (final)")
        parts.append(line)
    parts.append(Text(""))

    if lifecycle.rights:
        rights = _table("RULE", "RIGHT")
        for rule, right in lifecycle.rights.items():
            rights.add_row(safe.line(rule), safe.line(right))
        parts += [Text("Rights (first match wins: exact, * -> B, A -> *, * -> *)", "bold"), rights]
        parts.append(Text(""))

    if lifecycle.actions:
        actions = _table("FROM", "TO", "LABEL", "UPDATE", "RIGHT")
        for action in lifecycle.actions:
            froms = lifecycle.statuses if action.from_ == "*" else (action.from_,)
            needs = dict.fromkeys(
                lifecycle.right_for(a, action.to) for a in froms if lifecycle.can_transition(a, action.to)
            )
            actions.add_row(
                safe.line(action.from_),
                safe.line(d(action.to)),
                safe.line(action.label),
                Text(action.update),
                safe.line(" or ".join(needs)),
            )
        parts += [Text("Actions", style="bold"), actions, Text("")]

    for other, mapping in lifecycle.maps.items():
        line = Text("map to ", style="bold")
        line.append(safe.clean_line(other))
        line.append(": " + safe.clean_line(", ".join(f"{a} → {b}" for a, b in mapping.items())))
        parts.append(line)
    return Group(*parts)


def yaml_highlighting() -> str | None:
    """YAML highlighting when its grammar is installed, else plain text: TextArea raises otherwise."""
    try:
        import tree_sitter_yaml  # noqa: F401
    except ImportError:
        return None
    return "yaml"


class LifecycleAdmin(Widget):
    """Lists lifecycles, shows the highlighted one, and edits it as YAML (AdminLifecycles)."""

    DEFAULT_CSS = stylesheet("admin/panes.tcss", "admin/lifecycles.tcss")

    BINDINGS: ClassVar[list[BindingType]] = bindings("lifecycles")

    def __init__(self, backend: Backend, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backend = backend
        self.powers: sb.Powers | None = None
        self.summaries: list[sb.LifecycleSummary] = []
        self.detail: sb.LifecycleDetail | None = None
        self.editing: str | None = None  # the name being edited, NEW for a new one
        self.drafts: dict[str, str] = {}
        self.last_check: sb.LifecycleCheck | None = None
        self._check_timer: Timer | None = None

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="lc-note", classes="admin-note")
        with Horizontal(id="lc-body"):
            yield OptionList(id="lc-list", classes="admin-list")
            with ContentSwitcher(initial="lc-view", id="lc-switch"):
                with VerticalScroll(id="lc-view", can_focus=True):
                    yield Static(Text("Loading lifecycles…"), id="lc-detail")
                with Vertical(id="lc-edit"):
                    yield TextArea(
                        "",
                        language=yaml_highlighting(),
                        show_line_numbers=True,
                        soft_wrap=False,
                        tab_behavior="focus",
                        id="lc-editor",
                    )
                    yield Static(
                        Text("ctrl+s save · esc leave (y/N if unsaved) · ctrl+r reload stored version"),
                        id="lc-edit-hint",
                    )
        yield Static("", id="lc-status", classes="admin-status")

    @property
    def list(self) -> OptionList:
        return self.query_one("#lc-list", OptionList)

    @property
    def editor(self) -> TextArea:
        return self.query_one("#lc-editor", TextArea)

    @property
    def status(self) -> Static:
        return self.query_one("#lc-status", Static)

    def say(self, message: str, kind: str = "info") -> None:
        set_status(self.status, message, kind)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape only leaves the editor; otherwise it reaches the screen hosting this pane."""
        if action == "cancel":
            return self.editing is not None
        return True

    def on_mount(self) -> None:
        self.reload()

    @property
    def can_edit(self) -> bool:
        return bool(self.powers and self.powers.lifecycles)

    # -- loading ------------------------------------------------------------------------------

    @work(exclusive=True, group="lc-load")
    async def reload(self, select: str | None = None) -> None:
        try:
            powers = await self.backend.call(sb.powers)
            summaries = await self.backend.call(sb.lifecycles)
        except TesseraError as exc:
            self.say(exc.message, "error")
            return
        self.powers = powers
        self.summaries = summaries
        note = self.query_one("#lc-note", Static)
        if self.can_edit:
            note.set_class(False, "-refused")
            note.update(Text("enter/e edit · n new (copy of highlighted) · ctrl+r reload"))
        else:
            note.set_class(True, "-refused")
            note.update(
                safe.line(
                    f"Read only: {powers.user} may not change lifecycles "
                    "(needs AdminLifecycles or SuperUser)."
                )
            )
        current = select or (self.detail.lifecycle.name if self.detail else None)
        options = []
        for summary in self.summaries:
            label = safe.line(summary.name)
            count = len(summary.queues)
            label.append(f" · {count} queue{'' if count == 1 else 's'}", style="dim")
            options.append(Option(label, id=summary.name))
        self.list.clear_options()
        self.list.add_options(options)
        if not options:
            self.query_one("#lc-detail", Static).update(Text("No lifecycles."))
            return
        names = [s.name for s in self.summaries]
        index = names.index(current) if current in names else 0
        self.list.highlighted = index
        self.show(names[index])

    @on(OptionList.OptionHighlighted, "#lc-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        index = self.list.highlighted  # the highlight now, not a stale event's option
        if index is None or index >= len(self.summaries):
            return
        name = self.summaries[index].name
        if self.detail is None or self.detail.lifecycle.name != name:
            self.show(name)

    @on(OptionList.OptionSelected, "#lc-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.action_edit()

    @work(exclusive=True, group="lc-detail")
    async def show(self, name: str) -> None:
        try:
            detail = await self.backend.call(sb.lifecycle_detail, name)
        except TesseraError as exc:
            self.say(exc.message, "error")
            return
        self.detail = detail
        shown = render_lifecycle(detail.lifecycle, detail.queues)
        view = self.query_one("#lc-detail", Static)
        view.update(shown)
        # Never squeeze the transitions grid: wider than the view, it scrolls sideways (←/→).
        console = self.app.console
        need = Measurement.get(console, console.options.update_width(1000), shown).minimum
        view.styles.min_width = need

    # -- editing ------------------------------------------------------------------------------

    def _refuse(self) -> bool:
        if self.can_edit:
            return False
        user = self.powers.user if self.powers else "you"
        self.say(f"{user} may not change lifecycles (needs AdminLifecycles or SuperUser)", "error")
        return True

    def _open_editor(self, key: str, text: str, note: str) -> None:
        self.editing = key
        draft = self.drafts.get(key)
        self._load_text(draft if draft is not None else text)
        self.query_one("#lc-switch", ContentSwitcher).current = "lc-edit"
        self.editor.focus()
        if draft is not None:
            self.say("continuing your unsaved draft (ctrl+r reloads the stored version)")
        else:
            self.say(note)
        self._schedule_check()

    def _load_text(self, text: str) -> None:
        self.editor.load_text(text)
        self.editor.move_cursor((0, 0))

    def action_edit(self) -> None:
        if self.editing is not None or self._refuse():
            return
        if self.detail is None:
            self.say("no lifecycle to edit yet", "error")
            return
        self._open_editor(
            self.detail.lifecycle.name, self.detail.yaml, f"editing {self.detail.lifecycle.name}"
        )

    def action_new(self) -> None:
        if self.editing is not None or self._refuse():
            return
        if self.detail is not None:
            source = self.detail.lifecycle.to_dict()
            source["name"] = f"{self.detail.lifecycle.name}-copy"
            source["maps"] = {}
            text = Lifecycle.from_data(source).to_yaml()
        else:
            text = "name: new\ninitial: [new]\nactive: [open]\ninactive: [resolved]\n"
        self._open_editor(NEW, text, "new lifecycle: change its name, then ctrl+s")

    def action_reload(self) -> None:
        if self.editing is None:
            self.reload()
            return
        self.drafts.pop(self.editing, None)
        if self.editing == NEW:
            self.say("ctrl+r reloads a stored lifecycle; esc leaves this new one")
            return
        self._reload_editor(self.editing)

    @work(exclusive=True, group="lc-detail")
    async def _reload_editor(self, name: str) -> None:
        try:
            detail = await self.backend.call(sb.lifecycle_detail, name)
        except TesseraError as exc:
            self.say(exc.message, "error")
            return
        self.detail = detail
        self._load_text(detail.yaml)
        self.say(f"reloaded the stored version of {name}")
        self._schedule_check()

    @work(exclusive=True, group="lc-cancel")
    async def action_cancel(self) -> None:
        """Escape: leave the editor; with unsaved changes ask first (y discards, n keeps editing),
        as the scrip editor does."""
        if self.editing is None:
            return
        key = self.editing
        stored = self.detail.yaml if (self.detail and key != NEW) else None
        if self.editor.text != stored:
            from tessera.tui.screens import ConfirmScreen

            question = "Discard your unsaved changes to this lifecycle? (n keeps editing)"
            if not await self.app.push_screen_wait(ConfirmScreen(question)):
                self.editor.focus()
                return
            self.say("left the editor; your unsaved changes were discarded")
        else:
            self.say("left the editor; nothing changed")
        if self.editing != key:
            return
        self._cancel_check()
        self.drafts.pop(key, None)
        self.editing = None
        self.query_one("#lc-switch", ContentSwitcher).current = "lc-view"
        self.list.focus()

    # -- validation as you type ---------------------------------------------------------------

    @on(TextArea.Changed, "#lc-editor")
    def _changed(self, event: TextArea.Changed) -> None:
        if self.editing is not None:
            self._schedule_check()

    def _cancel_check(self) -> None:
        if self._check_timer is not None:
            self._check_timer.stop()
            self._check_timer = None

    def _schedule_check(self) -> None:
        self._cancel_check()
        self._check_timer = self.set_timer(CHECK_DELAY, self._start_check)

    def _start_check(self) -> None:
        self._check_timer = None
        if self.editing is not None:
            self.check(self.editor.text)

    @work(exclusive=True, group="lc-check")
    async def check(self, text: str) -> None:
        try:
            result = await self.backend.call(sb.check_lifecycle, text)
        except TesseraError as exc:
            if self.editing is not None and text == self.editor.text:
                self.say(exc.message, "error")
            return
        if self.editing is None or text != self.editor.text:
            return  # stale: the text changed or the editor closed while checking
        self.last_check = result
        if not result.ok:
            self.say(self._where(result.line, result.message or ""), "error")
        elif result.warnings:
            more = len(result.warnings) - 1
            extra = f" (and {more} more)" if more else ""
            self.say(f"valid, not saved; warning: {result.warnings[0]}{extra}")
        elif result.result == "unchanged":
            self.say("valid; same as the stored version")
        else:
            verb = "creates" if result.result == "created" else "replaces"
            self.say(f"valid, not saved: ctrl+s {verb} lifecycle {result.name}")

    @staticmethod
    def _where(line: int | None, message: str) -> str:
        if line is None or message.startswith("line "):
            return message
        return f"line {line}: {message}"

    # -- saving -------------------------------------------------------------------------------

    def action_save(self) -> None:
        if self.editing is None:
            if not self._refuse():
                self.say("press e to edit the highlighted lifecycle, n for a new one")
            return
        if self._refuse():
            return
        self._cancel_check()
        self.save(self.editor.text)

    @work(exclusive=True, group="lc-save")
    async def save(self, text: str) -> None:
        self.say("saving…")
        self.workers.cancel_group(self, "lc-check")
        try:
            saved = await self.backend.call(sb.apply_lifecycle, text)
        except TesseraError as exc:
            from tessera.core.lifecycles.check import error_line

            line = error_line(text, exc.message)
            self.say(self._where(line, exc.message), "error")
            if line is not None and self.editing is not None:
                self.editor.move_cursor((line - 1, 0), center=True)
            return
        if self.editing is not None:
            self.drafts.pop(self.editing, None)
        self.editing = None
        self.query_one("#lc-switch", ContentSwitcher).current = "lc-view"
        self.list.focus()
        message = saved.summary
        if saved.warnings:
            more = len(saved.warnings) - 1
            message += f"; warning: {saved.warnings[0]}" + (f" (and {more} more)" if more else "")
        self.say(message, "ok")
        self.detail = None
        self.reload(select=saved.name)

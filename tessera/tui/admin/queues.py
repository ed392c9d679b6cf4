"""Queue admin: the queues, a form for one (name, description, addresses, lifecycle, disabled),
creating one, and the queue's own watchers (AdminCc and Cc, copied on every ticket's mail).

Keys (the table focused): enter/e edit the highlighted queue, n new queue, ctrl+r reload.
In the form: tab/shift+tab between fields, enter or ctrl+s save, escape cancel (back to the table).
Watchers: type a user or address in the watcher field and press enter to add it (with the role
chosen beside it); in the watcher list, d or delete removes the highlighted one.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Checkbox, DataTable, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from tessera.core.errors import TesseraError
from tessera.tui import safe
from tessera.tui.actions import bindings
from tessera.tui.admin import structure_ops as sb
from tessera.tui.admin.lifecycles import set_status
from tessera.tui.backend import Backend
from tessera.tui.styles import stylesheet

FIELDS = ("name", "description", "correspond_address", "comment_address")


class QueueAdmin(Widget):
    """Lists queues; creates and changes them (AdminQueue); manages queue watchers."""

    DEFAULT_CSS = stylesheet("admin/panes.tcss", "admin/queues.tcss")

    BINDINGS: ClassVar[list[BindingType]] = bindings("queueadmin")

    def __init__(self, backend: Backend, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backend = backend
        self.powers: sb.Powers | None = None
        self.rows: list[sb.QueueRow] = []
        self.lifecycles: list[str] = []
        self.current: sb.QueueRow | None = None  # the queue in the form; None: a new queue
        self.creating = False
        self.watchers: list[sb.QueueWatcherInfo] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="q-note", classes="admin-note")
        with Horizontal(id="q-body"):
            yield DataTable(id="q-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="q-side"):
                yield Static("", id="q-form-title", classes="form-title")
                yield Static("", id="q-refusal", classes="refusal")
                with Vertical(id="q-form"):
                    yield Label("Name")
                    yield Input(id="q-name", placeholder="queue name", compact=True)
                    yield Label("Description")
                    yield Input(id="q-description", compact=True)
                    yield Label("Correspond address (replies come from it)")
                    yield Input(id="q-correspond_address", placeholder="help@example.com", compact=True)
                    yield Label("Comment address")
                    yield Input(id="q-comment_address", placeholder="help-comment@example.com", compact=True)
                    yield Label("Lifecycle")
                    yield Select[str](
                        [("default", "default")], id="q-lifecycle", allow_blank=False, compact=True
                    )
                    yield Checkbox(
                        "Disabled (hidden from lists, no new tickets)", id="q-disabled", compact=True
                    )
                with Vertical(id="q-watch-box"):
                    yield Label("Queue watchers", id="q-watch-label")
                    yield OptionList(id="q-watchers")
                    with Horizontal(id="q-watch-add"):
                        yield Select[str](
                            [(r, r) for r in sb.QUEUE_WATCHER_ROLES],
                            id="q-watch-role",
                            allow_blank=False,
                            value=sb.QUEUE_WATCHER_ROLES[0],
                            compact=True,
                        )
                        yield Input(id="q-watch-who", placeholder="user or e-mail, enter adds", compact=True)
        yield Static("", id="q-status", classes="admin-status")

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#q-table", DataTable)

    def _in_side(self) -> bool:
        focused = self.screen.focused if self.is_mounted else None
        side = self.query_one("#q-side")
        return focused is not None and (focused is side or side in focused.ancestors)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Letters act from the table only; escape and d only where they mean something, so
        the keys reach the screen hosting this pane otherwise."""
        if action in ("new", "edit"):
            return not self._in_side()
        if action == "cancel":
            return self._in_side() or self.creating
        if action == "remove_watcher":
            return self.query_one("#q-watchers", OptionList).has_focus
        return True

    def say(self, message: str, kind: str = "info") -> None:
        set_status(self.query_one("#q-status", Static), message, kind)

    def on_mount(self) -> None:
        self.table.add_columns("Name", "Lifecycle", "Correspond address", "State")
        self.reload()

    # -- loading ------------------------------------------------------------------------------

    @work(exclusive=True, group="q-load")
    async def reload(self, select: int | None = None) -> None:
        try:
            powers = await self.backend.call(sb.powers)
            rows = await self.backend.call(sb.queue_rows)
            names = await self.backend.call(sb.lifecycle_names)
        except TesseraError as exc:
            self.say(exc.message, "error")
            return
        self.powers, self.rows, self.lifecycles = powers, rows, names
        note = self.query_one("#q-note", Static)
        if powers.create_queues:
            note.set_class(False, "-refused")
            note.update(Text("n new queue · enter/e edit · ctrl+s save · esc cancel · ctrl+r reload"))
        elif powers.admin_queues:
            note.set_class(False, "-refused")
            note.update(
                safe.line(f"{powers.user} may change some queues but not create them (needs AdminQueue)")
            )
        else:
            note.set_class(True, "-refused")
            note.update(
                safe.line(f"Read only: {powers.user} may not change queues (needs AdminQueue or SuperUser).")
            )
        self.query_one("#q-lifecycle", Select).set_options([(safe.clean_line(n), n) for n in names])
        keep = select if select is not None else (self.current.id if self.current else None)
        self.table.clear()
        for row in rows:
            self.table.add_row(
                safe.line(row.name),
                safe.line(row.lifecycle),
                safe.line(row.correspond_address or "-"),
                Text("disabled" if row.disabled else "enabled", style="dim" if row.disabled else ""),
                key=str(row.id),
            )
        ids = [r.id for r in rows]
        if not rows:
            self.fill(None)
            return
        index = ids.index(keep) if keep in ids else 0
        self.table.move_cursor(row=index)
        self.fill(rows[index])

    @on(DataTable.RowHighlighted, "#q-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self._row(self._cursor_key())  # the cursor now, not a stale event's row
        if row is not None and (self.current is None or row.id != self.current.id or self.creating):
            self.fill(row)

    @on(DataTable.RowSelected, "#q-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit()

    def _row(self, key: str | None) -> sb.QueueRow | None:
        return next((r for r in self.rows if str(r.id) == key), None)

    # -- the form -----------------------------------------------------------------------------

    def _may_change(self, row: sb.QueueRow | None) -> bool:
        if self.powers is None:
            return False
        if row is None:
            return self.powers.create_queues
        return row.id in self.powers.admin_queues

    def fill(self, row: sb.QueueRow | None, *, creating: bool = False) -> None:
        """Show `row` in the form (None and `creating`: an empty form for a new queue)."""
        self.current = row
        self.creating = creating
        title = self.query_one("#q-form-title", Static)
        if creating:
            title.update(Text("New queue"))
        elif row is not None:
            title.update(safe.line(f"Queue {row.name}"))
        else:
            title.update(Text("No queue"))
        for name in FIELDS:
            self.query_one(f"#q-{name}", Input).value = getattr(row, name) if row else ""
        lifecycle = self.query_one("#q-lifecycle", Select)
        wanted = row.lifecycle if row else "default"
        if wanted in self.lifecycles:
            lifecycle.value = wanted
        disabled = self.query_one("#q-disabled", Checkbox)
        disabled.value = bool(row and row.disabled)
        disabled.display = not creating
        allowed = self._may_change(None if creating else row) and (creating or row is not None)
        self.query_one("#q-form", Vertical).display = allowed
        refusal = self.query_one("#q-refusal", Static)
        refusal.display = not allowed and (creating or row is not None)
        if refusal.display and self.powers is not None:
            what = "create queues" if creating else f"change queue {row.name if row else ''}"
            refusal.update(safe.line(f"{self.powers.user} may not {what} (needs AdminQueue or SuperUser)"))
        self.query_one("#q-watch-box", Vertical).display = row is not None and not creating
        may_watch = row is not None and self.powers is not None and row.id in self.powers.watcher_queues
        self.query_one("#q-watch-add", Horizontal).display = may_watch
        self.query_one("#q-watch-label", Label).update(
            "Queue watchers (d removes the highlighted one)" if may_watch else "Queue watchers (read only)"
        )
        self.query_one("#q-watchers", OptionList).clear_options()
        self.watchers = []
        if row is not None and not creating:
            self.load_watchers(row.name)

    def action_new(self) -> None:
        if self.powers is None:
            return
        if not self.powers.create_queues:
            self.say(f"{self.powers.user} may not create queues (needs AdminQueue or SuperUser)", "error")
            return
        self.fill(None, creating=True)
        self.query_one("#q-name", Input).focus()
        self.say("new queue: fill in the form, then enter or ctrl+s")

    def action_edit(self) -> None:
        if self.current is None or self.creating:
            return
        if not self._may_change(self.current):
            self.say(
                f"{self.powers.user if self.powers else 'you'} may not change queue "
                f"{self.current.name} (needs AdminQueue or SuperUser)",
                "error",
            )
            return
        self.query_one("#q-name", Input).focus()

    def action_cancel(self) -> None:
        if self.table.has_focus:
            return
        row = self.current if not self.creating else self._row(self._cursor_key())
        self.fill(row)
        self.table.focus()
        self.say("cancelled; nothing saved")

    def action_reload(self) -> None:
        self.reload()

    def _cursor_key(self) -> str | None:
        if self.table.row_count == 0:
            return None
        key = self.table.coordinate_to_cell_key(self.table.cursor_coordinate).row_key
        return key.value

    def _values(self) -> dict[str, str]:
        values = {name: self.query_one(f"#q-{name}", Input).value for name in FIELDS}
        lifecycle = self.query_one("#q-lifecycle", Select).value
        values["lifecycle"] = lifecycle if isinstance(lifecycle, str) else ""
        return values

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "q-watch-who":
            self.add_watcher()
        elif event.input.id and event.input.id.removeprefix("q-") in FIELDS:
            self.action_save()

    def action_save(self) -> None:
        if self.powers is None:
            return
        if self.creating:
            if not self._may_change(None):
                self.say(f"{self.powers.user} may not create queues (needs AdminQueue or SuperUser)", "error")
                return
            self.create(self._values())
            return
        row = self.current
        if row is None:
            return
        if not self._may_change(row):
            self.say(
                f"{self.powers.user} may not change queue {row.name} (needs AdminQueue or SuperUser)",
                "error",
            )
            return
        values = self._values()
        changes = {k: v for k, v in values.items() if v != getattr(row, k)}
        disabled = self.query_one("#q-disabled", Checkbox).value
        if disabled != row.disabled:
            changes["disabled"] = "yes" if disabled else "no"
        if not changes:
            self.say(f"queue {row.name}: nothing to save")
            return
        self.update(row.name, changes)

    @work(exclusive=True, group="q-save")
    async def create(self, values: dict[str, str]) -> None:
        try:
            created = await self.backend.call(sb.create_queue, values)
        except TesseraError as exc:
            self.say(exc.message, "error")
            return
        self.creating = False
        self.say(f"created queue {created.name} (lifecycle {created.lifecycle})", "ok")
        self.table.focus()
        self.reload(select=created.id)

    @work(exclusive=True, group="q-save")
    async def update(self, name: str, changes: dict[str, str]) -> None:
        try:
            saved = await self.backend.call(sb.update_queue, name, changes)
        except TesseraError as exc:
            self.say(exc.message, "error")
            return
        fields = ", ".join(k.replace("_", " ") for k in changes)
        self.say(f"saved queue {saved.name}: {fields}", "ok")
        self.table.focus()
        self.reload(select=saved.id)

    # -- watchers -----------------------------------------------------------------------------

    @work(exclusive=True, group="q-watchers")
    async def load_watchers(self, queue: str) -> None:
        try:
            found = await self.backend.call(sb.queue_watchers, queue)
        except TesseraError as exc:
            self.say(exc.message, "error")
            return
        if self.current is None or self.current.name != queue:
            return
        self.watchers = found
        options = []
        for watcher in found:
            label = Text(f"{watcher.role:<8}", style="bold")
            label.append(safe.clean_line(watcher.name))
            if watcher.email and watcher.email != watcher.name:
                label.append(f" <{safe.clean_line(watcher.email)}>", style="dim")
            options.append(Option(label))
        watchers = self.query_one("#q-watchers", OptionList)
        watchers.clear_options()
        if options:
            watchers.add_options(options)
        else:
            watchers.add_option(Option(Text("no queue watchers", style="dim"), disabled=True))

    def _may_watch(self) -> bool:
        if self.current is None or self.powers is None:
            return False
        if self.current.id in self.powers.watcher_queues:
            return True
        self.say(
            f"{self.powers.user} may not change the watchers of queue {self.current.name} "
            "(needs AdminQueue or ModifyQueueWatchers)",
            "error",
        )
        return False

    def add_watcher(self) -> None:
        who = self.query_one("#q-watch-who", Input).value.strip()
        role = self.query_one("#q-watch-role", Select).value
        if not who or not isinstance(role, str) or not self._may_watch() or self.current is None:
            return
        self._change_watcher(self.current.name, role, who, add=True)

    def action_remove_watcher(self) -> None:
        watchers = self.query_one("#q-watchers", OptionList)
        if not watchers.has_focus or watchers.highlighted is None or not self.watchers:
            return
        if self.current is None or not self._may_watch():
            return
        watcher = self.watchers[watchers.highlighted]
        self._change_watcher(self.current.name, watcher.role, watcher.name, add=False)

    @work(exclusive=True, group="q-watch-save")
    async def _change_watcher(self, queue: str, role: str, who: str, *, add: bool) -> None:
        try:
            if add:
                done = await self.backend.call(sb.add_queue_watcher, queue, role, who)
            else:
                await self.backend.call(sb.remove_queue_watcher, queue, role, who)
                done = True
        except TesseraError as exc:
            self.say(exc.message, "error")
            return
        if add:
            self.query_one("#q-watch-who", Input).value = ""
            self.say(
                f"added {who} as {role} of queue {queue}" if done else f"{who} already is {role} of {queue}",
                "ok",
            )
        else:
            self.say(f"removed {who} as {role} of queue {queue}", "ok")
        self.load_watchers(queue)

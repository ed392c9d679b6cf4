"""Custom field admin: the fields, creating one (name, type, allowed values, pattern, the queue it
applies to), and changing one (all of that but the type; disable/enable).

Keys (the table focused): enter/e edit the highlighted field, n new field, ctrl+r reload.
In the form: tab/shift+tab between fields, enter (in a one-line field) or ctrl+s save, escape
cancel. Allowed values of a select field: one per line.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Checkbox, DataTable, Input, Label, Select, Static, TextArea

from tessera.core.errors import TesseraError
from tessera.tui import safe
from tessera.tui.actions import bindings
from tessera.tui.admin import structure_ops as sb
from tessera.tui.admin.lifecycles import set_status
from tessera.tui.backend import Backend
from tessera.tui.styles import stylesheet

ALL_QUEUES = "\x00all"


class CustomFieldAdmin(Widget):
    """Lists custom fields; creates and changes them (AdminCustomField)."""

    DEFAULT_CSS = stylesheet("admin/panes.tcss", "admin/customfields.tcss")

    BINDINGS: ClassVar[list[BindingType]] = bindings("cfadmin")

    def __init__(self, backend: Backend, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backend = backend
        self.powers: sb.Powers | None = None
        self.rows: list[sb.FieldRow] = []
        self.queue_names: list[str] = []
        self.current: sb.FieldRow | None = None
        self.creating = False

    def compose(self) -> ComposeResult:
        yield Static("", id="cf-note", classes="admin-note")
        with Horizontal(id="cf-body"):
            yield DataTable(id="cf-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="cf-side"):
                yield Static("", id="cf-form-title", classes="form-title")
                yield Static("", id="cf-refusal", classes="refusal")
                with Vertical(id="cf-form"):
                    yield Label("Name")
                    yield Input(id="cf-name", placeholder="field name", compact=True)
                    yield Label("Type (fixed once created)")
                    yield Select[str](
                        [(t, t) for t in sb.CF_TYPES],
                        id="cf-type",
                        allow_blank=False,
                        value="freeform",
                        compact=True,
                    )
                    yield Checkbox("Multiple values", id="cf-multiple", compact=True)
                    yield Label("Allowed values (select fields; one per line)")
                    yield TextArea("", id="cf-values", tab_behavior="focus", soft_wrap=False, compact=True)
                    yield Label("Pattern (regular expression; empty: any value)")
                    yield Input(id="cf-pattern", compact=True)
                    yield Label("Applies to")
                    yield Select[str](
                        [("All queues", ALL_QUEUES)], id="cf-queue", allow_blank=False, compact=True
                    )
                    yield Label("Description")
                    yield Input(id="cf-description", compact=True)
                    yield Checkbox("Disabled (kept, but offered nowhere)", id="cf-disabled", compact=True)
        yield Static("", id="cf-status", classes="admin-status")

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#cf-table", DataTable)

    def _in_side(self) -> bool:
        focused = self.screen.focused if self.is_mounted else None
        side = self.query_one("#cf-side")
        return focused is not None and (focused is side or side in focused.ancestors)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Letters act from the table only; escape only in the form, so that otherwise the key
        reaches the screen hosting this pane."""
        if action in ("new", "edit"):
            return not self._in_side()
        if action == "cancel":
            return self._in_side() or self.creating
        return True

    def say(self, message: str, kind: str = "info") -> None:
        set_status(self.query_one("#cf-status", Static), message, kind)

    def on_mount(self) -> None:
        self.table.add_columns("Name", "Type", "Applies to", "Values", "State")
        self.reload()

    @property
    def can_edit(self) -> bool:
        return bool(self.powers and self.powers.custom_fields)

    def _refusal(self) -> str:
        user = self.powers.user if self.powers else "you"
        return f"{user} may not change custom fields (needs AdminCustomField or SuperUser)"

    # -- loading ------------------------------------------------------------------------------

    @work(exclusive=True, group="cf-load")
    async def reload(self, select: int | None = None) -> None:
        try:
            powers = await self.backend.call(sb.powers)
            rows = await self.backend.call(sb.field_rows)
            queues = await self.backend.call(sb.queue_rows)
        except TesseraError as exc:
            self.say(exc.message, "error")
            return
        self.powers, self.rows = powers, rows
        self.queue_names = [q.name for q in queues]
        note = self.query_one("#cf-note", Static)
        note.set_class(not self.can_edit, "-refused")
        if self.can_edit:
            note.update(Text("n new field · enter/e edit · ctrl+s save · esc cancel · ctrl+r reload"))
        else:
            note.update(safe.line(f"Read only: {self._refusal()}."))
        self.query_one("#cf-queue", Select).set_options(
            [("All queues", ALL_QUEUES), *((safe.clean_line(n), n) for n in self.queue_names)]
        )
        keep = select if select is not None else (self.current.id if self.current else None)
        self.table.clear()
        for row in rows:
            values = ", ".join(row.values) if row.type == "select" else (row.pattern and f"/{row.pattern}/")
            self.table.add_row(
                safe.line(row.name),
                Text(row.type + ("+" if row.multiple else ""), no_wrap=True),  # + multiple values
                safe.line(row.queue or "all queues"),
                safe.line(values or "-"),
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

    def _cursor_key(self) -> str | None:
        if self.table.row_count == 0:
            return None
        return self.table.coordinate_to_cell_key(self.table.cursor_coordinate).row_key.value

    def _row(self, key: str | None) -> sb.FieldRow | None:
        return next((r for r in self.rows if str(r.id) == key), None)

    @on(DataTable.RowHighlighted, "#cf-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self._row(self._cursor_key())  # the cursor now, not a stale event's row
        if row is not None and (self.current is None or row.id != self.current.id or self.creating):
            self.fill(row)

    @on(DataTable.RowSelected, "#cf-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit()

    # -- the form -----------------------------------------------------------------------------

    def fill(self, row: sb.FieldRow | None, *, creating: bool = False) -> None:
        self.current = row
        self.creating = creating
        title = self.query_one("#cf-form-title", Static)
        title.update(
            Text("New custom field")
            if creating
            else (safe.line(f"Custom field {row.name}") if row else Text("No custom field"))
        )
        self.query_one("#cf-name", Input).value = row.name if row else ""
        kind = self.query_one("#cf-type", Select)
        kind.value = row.type if row else "freeform"
        kind.disabled = not creating  # values tickets have were checked against the type
        self.query_one("#cf-multiple", Checkbox).value = bool(row and row.multiple)
        self.query_one("#cf-values", TextArea).load_text("\n".join(row.values) if row else "")
        self.query_one("#cf-pattern", Input).value = row.pattern if row else ""
        scope = row.queue if row and row.queue in self.queue_names else None
        self.query_one("#cf-queue", Select).value = scope or ALL_QUEUES
        self.query_one("#cf-description", Input).value = row.description if row else ""
        disabled = self.query_one("#cf-disabled", Checkbox)
        disabled.value = bool(row and row.disabled)
        disabled.display = not creating
        shown = creating or row is not None
        self.query_one("#cf-form", Vertical).display = shown and self.can_edit
        refusal = self.query_one("#cf-refusal", Static)
        refusal.display = shown and not self.can_edit
        refusal.update(safe.line(self._refusal()))

    def action_new(self) -> None:
        if self.powers is None:
            return
        if not self.can_edit:
            self.say(self._refusal(), "error")
            return
        self.fill(None, creating=True)
        self.query_one("#cf-name", Input).focus()
        self.say("new custom field: fill in the form, then ctrl+s")

    def action_edit(self) -> None:
        if self.current is None or self.creating:
            return
        if not self.can_edit:
            self.say(self._refusal(), "error")
            return
        self.query_one("#cf-name", Input).focus()

    def action_cancel(self) -> None:
        if self.table.has_focus:
            return
        self.fill(self.current if not self.creating else self._row(self._cursor_key()))
        self.table.focus()
        self.say("cancelled; nothing saved")

    def action_reload(self) -> None:
        self.reload()

    def _values(self) -> dict[str, Any]:
        kind = self.query_one("#cf-type", Select).value
        queue = self.query_one("#cf-queue", Select).value
        return {
            "name": self.query_one("#cf-name", Input).value,
            "type": kind if isinstance(kind, str) else "freeform",
            "multiple": self.query_one("#cf-multiple", Checkbox).value,
            "values": [v for v in self.query_one("#cf-values", TextArea).text.splitlines() if v.strip()],
            "pattern": self.query_one("#cf-pattern", Input).value.strip(),
            "queue": queue if isinstance(queue, str) and queue != ALL_QUEUES else None,
            "description": self.query_one("#cf-description", Input).value,
        }

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        if self.powers is None:
            return
        if not self.can_edit:
            self.say(self._refusal(), "error")
            return
        values = self._values()
        if self.creating:
            self.create(values)
            return
        row = self.current
        if row is None:
            return
        changes: dict[str, Any] = {}
        if values["name"].strip() != row.name:
            changes["new_name"] = values["name"]
        if values["description"] != row.description:
            changes["description"] = values["description"]
        if values["pattern"] != row.pattern:
            changes["pattern"] = values["pattern"] or None
        if row.type == "select" and values["values"] != row.values:
            changes["values"] = values["values"]
        elif row.type != "select" and values["values"]:
            changes["values"] = values["values"]  # core refuses them, with the reason
        hidden_scope = row.queue is not None and row.queue not in self.queue_names
        if values["queue"] != row.queue and not (hidden_scope and values["queue"] is None):
            changes["queue"] = values["queue"]  # (a queue this user cannot list stays as it is)
        if values["multiple"] != row.multiple:
            changes["multiple"] = values["multiple"]
        disabled = self.query_one("#cf-disabled", Checkbox).value
        if disabled != row.disabled:
            changes["disabled"] = disabled
        if not changes:
            self.say(f"custom field {row.name}: nothing to save")
            return
        self.update(row.name, changes)

    @work(exclusive=True, group="cf-save")
    async def create(self, values: dict[str, Any]) -> None:
        try:
            created = await self.backend.call(sb.create_field, values)
        except TesseraError as exc:
            self.say(exc.message, "error")
            return
        self.creating = False
        self.say(f"created custom field {created.name} ({created.type})", "ok")
        self.table.focus()
        self.reload(select=created.id)

    @work(exclusive=True, group="cf-save")
    async def update(self, name: str, changes: dict[str, Any]) -> None:
        try:
            saved = await self.backend.call(sb.update_field, name, changes)
        except TesseraError as exc:
            self.say(exc.message, "error")
            return
        what = ", ".join(k.replace("new_name", "name") for k in changes)
        self.say(f"saved custom field {saved.name}: {what}", "ok")
        self.table.focus()
        self.reload(select=saved.id)

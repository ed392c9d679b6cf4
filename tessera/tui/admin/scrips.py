"""The Scrips and Templates tabs of the admin area: lists with the keys to create, edit, reorder,
enable, disable, delete, see the history of and revert scrips and templates.

Scrips show either all of them (global and every queue's) or, after Q, those that apply to one
queue in the order the engine runs them (the Order column; ID is the scrip's id, as traces
show it). Rights are checked by core on every call;
what the actor may not do is refused with a one-line notification.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tessera.tui import safe
from tessera.tui.actions import bindings
from tessera.tui.admin import scrip_ops as ab
from tessera.tui.admin.editor import EditorScreen
from tessera.tui.admin.revisions_screen import HistoryScreen
from tessera.tui.backend import Backend
from tessera.tui.screens import Choice, ConfirmScreen, PickerScreen

ALL = "\x00all"

SCRIP_COLUMNS = (
    ("id", "ID"),
    ("position", "Order"),
    ("description", "Description"),
    ("queue", "Queue"),
    ("stage", "Stage"),
    ("condition", "Condition"),
    ("action", "Action"),
    ("template", "Template"),
)
_SHORT = {"id": 4, "position": 5, "queue": 10, "stage": 6}
# The columns of words: the least each is cut to on a narrow screen, the most it takes (past that
# an ellipsis), and what it takes before its rows are known.
_LEAST = {"description": 9, "condition": 8, "action": 10, "template": 8}
_MOST = {"description": 60, "condition": 28, "action": 40, "template": 28}
_BEFORE_ROWS = {"description": 40, "condition": 20, "action": 26, "template": 20}
_PER_COLUMN = 2  # a cell's padding, one each side
_SCROLLBAR = 2


def longest(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Each column of words' longest text in `rows` (its header's, at least)."""
    labels = dict(SCRIP_COLUMNS)
    return {
        key: max([cell_len(labels[key])] + [cell_len(str(row.get(key) or "-")) for row in rows])
        for key in _LEAST
    }


def scrip_column_widths(width: int, wants: dict[str, int] | None = None) -> dict[str, int]:
    """Widths for a table `width` cells wide (0: not laid out yet) whose columns of words hold
    texts `wants` long (their longest): the short columns as they are; each column of words as
    long as its texts (up to its most) when there is room; otherwise each cut down towards its
    least by the same share, so every column shows (down to ~80 columns)."""
    ideal = {key: min(_MOST[key], max(_LEAST[key], (wants or _BEFORE_ROWS)[key])) for key in _LEAST}
    widths = dict(_SHORT)
    if width <= 0:
        return widths | ideal
    room = width - _SCROLLBAR - _PER_COLUMN * len(SCRIP_COLUMNS) - sum(_SHORT.values())
    spare = room - sum(_LEAST.values())
    give = sum(ideal[key] - _LEAST[key] for key in _LEAST)
    if spare >= give:
        return widths | ideal  # (what is left stays blank on the right: the columns read together)
    share = max(0, spare) / give if give else 0.0
    widths |= {key: _LEAST[key] + int((ideal[key] - _LEAST[key]) * share) for key in _LEAST}
    widths["description"] += max(0, room - sum(widths[key] for key in _LEAST))  # the rounding's
    return widths


class AdminTable(DataTable[Any]):
    """The list of a tab: j/k move as everywhere."""

    def on_key(self, event: Any) -> None:
        if event.key == "j":
            self.action_cursor_down()
            event.stop()
        elif event.key == "k":
            self.action_cursor_up()
            event.stop()


class ScripAdmin(Widget):
    """Every scrip (or those of one queue, in run order), with the keys of the `scrips` scope."""

    BINDINGS = bindings("scrips")

    def __init__(self, backend: Backend, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backend = backend
        self.scope: str | None = None
        self.rows: list[dict[str, Any]] = []
        self.queues: list[str] = []
        self.widths = scrip_column_widths(0)

    def compose(self) -> ComposeResult:
        yield Static("", id="scrips-scope", classes="admin-scope")
        table = AdminTable(id="scrips-table", cursor_type="row", zebra_stripes=False)
        self._add_columns(table)
        yield table

    def _add_columns(self, table: DataTable[Any]) -> None:
        for key, label in SCRIP_COLUMNS:
            table.add_column(label, key=key, width=self.widths[key])

    def on_resize(self) -> None:
        self.call_after_refresh(self.fit)

    def fit(self) -> None:
        """Columns fitted to the table's width and the rows' texts, so every one shows (at 120
        columns Action and Template were cut off the right edge)."""
        if scrip_column_widths(self.table.size.width, longest(self.rows)) != self.widths:
            current = self.current()
            self.show(self.rows, current["id"] if current else None)

    def on_mount(self) -> None:
        self.load()

    @property
    def table(self) -> AdminTable:
        return self.query_one("#scrips-table", AdminTable)

    def current(self) -> dict[str, Any] | None:
        table = self.table
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @work(group="admin-scrips", exclusive=True)
    async def load(self, keep: int | None = None) -> None:
        current = self.current()
        if keep is None and current is not None:
            keep = current["id"]
        rows = await self.backend.ask(ab.scrips, self.scope)
        queues = await self.backend.ask(ab.queue_names)
        if rows is None:
            self.query_one("#scrips-scope", Static).update(Text("You may not see scrips here.", style="bold"))
            return
        self.queues = queues or []
        self.show(rows, keep)

    def show(self, rows: list[dict[str, Any]], keep: int | None) -> None:
        self.rows = rows
        table = self.table
        widths = scrip_column_widths(table.size.width, longest(rows))
        if widths != self.widths:
            self.widths = widths
            table.clear(columns=True)
            self._add_columns(table)
        else:
            table.clear()
        for row in rows:
            off = not row["enabled"]
            style = "dim strike" if off else ""
            position = "off" if off else (str(row["position"]) if self.scope else str(row["order"]))
            table.add_row(
                Text(str(row["id"]), style=style, justify="right"),
                Text(position, style=style, justify="right"),
                safe.line(row["description"], style),
                safe.line(row["queue"] or "global", style),
                safe.line("batch" if row["stage"] == "TransactionBatch" else "create", style),
                safe.line(row["condition"], style),
                safe.line(row["action"], style),
                safe.line(row["template"] or "-", style),
                key=str(row["id"]),
            )
        ids = [r["id"] for r in rows]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        scope = Text()
        if self.scope:
            scope.append(f"Scrips that run for queue {safe.clean_line(self.scope)}", style="bold")
            scope.append(
                ", in the order they run (Order = position; off = disabled) · Q: another queue",
                style="dim",
            )
        else:
            scope.append("All scrips", style="bold")
            scope.append(
                " (global and every queue's; Order = sort order) · Q: one queue's, in run order",
                style="dim",
            )
        self.query_one("#scrips-scope", Static).update(scope)

    @on(DataTable.RowSelected, "#scrips-table")
    def _selected(self) -> None:
        self.action_edit()

    @work(group="compose")
    async def action_new(self) -> None:
        editor = EditorScreen(self.backend, queues=self.queues, default_queue=self.scope)
        if await self.app.push_screen_wait(editor):
            self.load(keep=editor.scrip_id)  # the cursor on the new scrip: space, e, d act on it
            self.templates_changed()

    def templates_changed(self) -> None:
        """A scrip saved from the editor may have made its template, or changed which it uses:
        the Templates tab shows it (and the counts of its users) without a restart."""
        for pane in self.screen.query(TemplateAdmin):
            current = pane.current()
            pane.load(keep=current["id"] if current else None)

    @work(group="compose")
    async def action_edit(self) -> None:
        row = self.current()
        if row is None:
            return
        scrip = await self.backend.ask(ab.scrip, row["id"])
        if scrip is None:
            return
        saved = await self.app.push_screen_wait(EditorScreen(self.backend, scrip=scrip, queues=self.queues))
        if saved:
            self.load(keep=row["id"])
            self.templates_changed()

    @work(group="admin-scrips-change")
    async def action_toggle_enabled(self) -> None:
        row = self.current()
        if row is None:
            return
        done = await self.backend.ask(ab.set_enabled, row["id"], not row["enabled"])
        if done is not None:
            state = "enabled" if done["spec"]["enabled"] else "disabled"
            self.notify(f"Scrip {row['id']} {state}", markup=False, timeout=3)
            self.load(keep=row["id"])

    @work(group="admin-scrips-change")
    async def action_move(self, step: int) -> None:
        row = self.current()
        if row is None:
            return
        rows = await self.backend.ask(ab.move, row["id"], step, self.scope)
        if rows is not None:
            self.show(rows, row["id"])

    @work(group="compose")
    async def action_delete(self) -> None:
        row = self.current()
        if row is None:
            return
        question = f"Delete scrip {row['id']} ({row['description']})? U restores it from its history."
        if not await self.app.push_screen_wait(ConfirmScreen(question)):
            return
        await self.backend.ask(ab.delete_scrip, row["id"])
        self.load()
        self.templates_changed()

    @work(group="compose")
    async def action_history(self) -> None:
        row = self.current()
        if row is None:
            return
        reverted = await self.app.push_screen_wait(
            HistoryScreen(self.backend, "scrip", row["id"], name=row["description"])
        )
        if reverted:
            self.load(keep=row["id"])
            self.templates_changed()

    @work(group="compose")
    async def action_scope(self) -> None:
        choices = [
            Choice(ALL, "All scrips", "global and every queue's"),
            *(Choice(q, q) for q in self.queues),
        ]
        chosen = await self.app.push_screen_wait(PickerScreen("Scrips that run for which queue?", choices))
        if chosen is None:
            return
        self.scope = None if chosen == ALL else chosen
        self.load()

    @work(group="compose")
    async def action_restore(self) -> None:
        gone = await self.backend.ask(ab.deleted_scrips)
        if gone is None:
            return
        if not gone:
            self.notify("No deleted scrips", markup=False, timeout=3)
            return
        choices = [
            Choice(str(r["id"]), f"{r['name']}", f"deleted by {r['actor']} {(r['created'] or '')[:16]}")
            for r in gone
        ]
        chosen = await self.app.push_screen_wait(PickerScreen("Restore which scrip?", choices))
        if chosen is None:
            return
        back = await self.backend.ask(ab.revert, int(chosen))
        if back is not None:
            self.notify(f"Restored scrip {back['id']}", markup=False, timeout=3)
            self.load(keep=back["id"])


class TemplateAdmin(Widget):
    """Every template (global ones first), with the keys of the `templates` scope."""

    BINDINGS = bindings("templates")

    def __init__(self, backend: Backend, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backend = backend
        self.rows: list[dict[str, Any]] = []
        self.queues: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(
            Text(
                "Templates: RT-style header lines, a blank line, then the body (Jinja, sandboxed)",
                style="dim",
            ),
            classes="admin-scope",
        )
        table = AdminTable(id="templates-table", cursor_type="row", zebra_stripes=False)
        for key, label, width in (
            ("name", "Name", 26),
            ("queue", "Queue", 12),
            ("used", "Used by", 8),
            ("lines", "Lines", 6),
            ("first", "First line", 50),
        ):
            table.add_column(label, key=key, width=width)
        yield table

    def on_mount(self) -> None:
        self.load()

    @property
    def table(self) -> AdminTable:
        return self.query_one("#templates-table", AdminTable)

    def current(self) -> dict[str, Any] | None:
        table = self.table
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @work(group="admin-templates", exclusive=True)
    async def load(self, keep: int | None = None) -> None:
        rows = await self.backend.ask(ab.templates)
        queues = await self.backend.ask(ab.queue_names)
        if rows is None:
            return
        self.queues = queues or []
        self.rows = rows
        table = self.table
        table.clear()
        for row in rows:
            table.add_row(
                safe.line(row["name"]),
                safe.line(row["queue"] or "global"),
                Text(str(row["used_by"]), justify="right"),
                Text(str(row["lines"]), justify="right"),
                safe.line(row["first_line"], "dim"),
                key=str(row["id"]),
            )
        ids = [r["id"] for r in rows]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))

    @on(DataTable.RowSelected, "#templates-table")
    def _selected(self) -> None:
        self.action_edit()

    @work(group="compose")
    async def action_new(self) -> None:
        editor = EditorScreen(self.backend, queues=self.queues, template_only=True)
        if await self.app.push_screen_wait(editor):
            self.load(keep=editor.template_id)  # the cursor on the new template

    @work(group="compose")
    async def action_edit(self) -> None:
        row = self.current()
        if row is None:
            return
        info = await self.backend.ask(ab.template, row["id"])
        if info is None:
            return
        screen = EditorScreen(self.backend, template=info, queues=self.queues, template_only=True)
        if await self.app.push_screen_wait(screen):
            self.load(keep=row["id"])

    @work(group="compose")
    async def action_delete(self) -> None:
        row = self.current()
        if row is None:
            return
        if not await self.app.push_screen_wait(ConfirmScreen(f"Delete template {row['name']}?")):
            return
        await self.backend.ask(ab.delete_template, row["id"])
        self.load()

    @work(group="compose")
    async def action_history(self) -> None:
        row = self.current()
        if row is None:
            return
        screen = HistoryScreen(self.backend, "template", row["id"], name=row["name"])
        if await self.app.push_screen_wait(screen):
            self.load(keep=row["id"])

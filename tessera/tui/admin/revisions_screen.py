"""The revisions of a scrip or a template, newest first, with the diff of the highlighted one; `r`
reverts to it (after y/N), which saves a new revision. Opened with H in the lists or F6 in the
editor."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from tessera.tui import safe
from tessera.tui.actions import bindings_for
from tessera.tui.admin import scrip_ops as ab
from tessera.tui.backend import Backend
from tessera.tui.screens import ConfirmScreen


def render_diff(diff: str) -> Text:
    out = Text()
    if not diff:
        out.append("(no difference)", style="dim")
    for line in safe.clean(diff).split("\n"):
        style = ""
        if line.startswith("+") and not line.startswith("+++"):
            style = "bold green"
        elif line.startswith("-") and not line.startswith("---"):
            style = "bold red"
        elif line.startswith("@@"):
            style = "dim"
        out.append(line + "\n", style=style)
    return out


class HistoryScreen(ModalScreen[bool]):
    """The revisions of one scrip or template, newest first, with the diff of the highlighted one;
    `r` reverts to it (y/N). Dismisses True after a revert."""

    BINDINGS: ClassVar[list[BindingType]] = bindings_for("dialog.cancel", "revisions.revert")

    def __init__(self, backend: Backend, kind: str, object_id: int, name: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.backend = backend
        self.kind = kind
        self.object_id = object_id
        self.object_name = name
        self.rows: list[dict[str, Any]] = []

    def version(self, index: int) -> int:
        """Versions are numbered per object from 1 (the oldest), by core, which numbers the diff's
        headers the same way; the list is newest first."""
        return int(self.rows[index].get("version") or len(self.rows) - index)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="scrip-history"):
            title = f"History of {self.kind} {self.object_id}" + (
                f": {self.object_name}" if self.object_name else ""
            )
            yield Label(safe.line(title, "bold"), classes="title")
            with Horizontal(id="history-split"):
                yield OptionList(id="history-revisions")
                with VerticalScroll(id="history-diff"):
                    yield Static("", id="history-diff-body")
            yield Label("j/k move · r revert to the highlighted version (y/N) · esc close", classes="hint")

    def on_mount(self) -> None:
        self.load()

    @work(group="history-load", exclusive=True)
    async def load(self) -> None:
        rows = await self.backend.ask(ab.revisions, self.kind, self.object_id)
        if rows is None:
            self.dismiss(False)
            return
        self.rows = rows
        options = self.query_one("#history-revisions", OptionList)
        options.clear_options()
        if not rows:
            options.add_option(Option(Text("(none)", style="dim"), disabled=True))
            self.query_one("#history-diff-body", Static).update(
                Text("No revisions yet: the first save makes one.", style="bold")
            )
        for n, row in enumerate(rows):
            label = Text()
            label.append(f"v{self.version(n)} ", style="bold")
            label.append(safe.clean_line((row["created"] or "")[:16].replace("T", " ")) + " ")
            label.append(safe.clean_line(row["actor"] or "?"), style="bold")
            label.append(f" {row['change']}: " + safe.clean_line(row["summary"]))
            options.add_option(Option(label, id=str(row["id"])))
        if rows:
            options.highlighted = 0
            self.show(0)
        options.focus()

    @on(OptionList.OptionHighlighted, "#history-revisions")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show(event.option_index)

    def show(self, index: int) -> None:
        if 0 <= index < len(self.rows):
            self.query_one("#history-diff-body", Static).update(render_diff(self.rows[index]["diff"]))

    def on_key(self, event: Any) -> None:
        options = self.query_one("#history-revisions", OptionList)
        if event.key == "j":
            options.action_cursor_down()
            event.stop()
        elif event.key == "k":
            options.action_cursor_up()
            event.stop()

    @work(group="compose")
    async def action_revert(self) -> None:
        options = self.query_one("#history-revisions", OptionList)
        index = options.highlighted
        if index is None or not 0 <= index < len(self.rows):
            return
        row = self.rows[index]
        version = self.version(index)
        if not await self.app.push_screen_wait(
            ConfirmScreen(f"Make this {self.kind} what version v{version} saved?")
        ):
            return
        done = await self.backend.ask(ab.revert, row["id"])
        if done is not None:
            self.notify(f"Reverted to version v{version} (a new version)", markup=False, timeout=4)
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

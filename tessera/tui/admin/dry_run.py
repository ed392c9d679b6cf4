"""The scrip editor's dry-run: the draft (condition, action, template, as they stand, saved or
not) tried on a real ticket and a change, with the mail it would send and the fields it would
change. Nothing is written and nothing is sent (`tessera.scrips.draft`).

`DryRunPanel` owns the ticket and change to try and runs the dry-run through the `Backend` it is
given; once a ticket is chosen (ctrl+t, or enter in its fields), `follow()` runs it again after
each edit that compiles. The draft comes from the editor (`draft`), read when the run starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from rich._wrap import divide_line  # (tests/test_private_api.py; tessera.tui.history_view uses it too)
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Input, Label, Static

from tessera.core.errors import TesseraError
from tessera.tui import safe
from tessera.tui.admin import scrip_ops as ab
from tessera.tui.admin.editor_fields import form_row
from tessera.tui.backend import Backend

LATEST = "latest"  # the Change field's default: try the draft on the ticket's latest transaction
DRY_RUN_DELAY = 0.8  # seconds of quiet after an edit before the dry-run follows it
# Headers the dry-run does not repeat (shown above, or different on every run).
SHOWN_ELSEWHERE = ("subject", "to", "cc", "bcc", "from", "message-id", "date", "references", "in-reply-to")


@dataclass(frozen=True)
class Draft:
    """The scrip as the editor holds it: its spec, its template (None: none) and its id, if saved."""

    spec: dict[str, Any]
    template: dict[str, Any] | None
    scrip_id: int | None


class DryRunPanel(Vertical):
    def __init__(self, backend: Backend, draft: Callable[[], Draft]) -> None:
        super().__init__(id="editor-right")
        self.backend = backend
        self.draft = draft
        self.ticket = ""  # the ticket chosen to try the draft on; "" until one is
        self._timer: Timer | None = None
        self.plan: dict[str, Any] | None = None  # the last run's, drawn again at a new width
        self._drawn_at = -1  # the width it was drawn at

    def compose(self) -> ComposeResult:
        yield Label(Text("Dry run (ctrl+t)", style="bold"))
        yield Static("", id="dry-hint")
        yield form_row("Ticket", Input(placeholder="42 or TKT-0042", id="dry-ticket"))
        # The default is shown as the value it is, not as a placeholder that silently means it.
        yield form_row("Change", Input(LATEST, placeholder="FIELD=VALUE …", id="dry-change"))
        yield Static(
            Text(
                f"Change: {LATEST}: the ticket's latest transaction, or FIELD=VALUE … (status=resolved);"
                " a timer: at='2026-12-24 09:00' (default now)",
                style="dim",
            ),
            id="dry-change-help",
        )
        with VerticalScroll(id="dry-scroll"):
            yield Static(Text("Choose a ticket (and a change), then ctrl+t.", style="dim"), id="dry-result")

    def show_hint(self, narrow: bool) -> None:
        hint = (
            "F7 hides this panel · nothing is written, nothing is sent"
            if narrow
            else "Nothing is written, nothing is sent."
        )
        self.query_one("#dry-hint", Static).update(Text(hint, style="dim"))

    def start(self) -> None:
        """ctrl+t: try the draft on the ticket typed (asked for, if none is)."""
        ticket = self.query_one("#dry-ticket", Input).value.strip()
        if not ticket:
            self.plan = None
            self.query_one("#dry-ticket").focus()
            self.query_one("#dry-result", Static).update(
                Text("Which ticket? Type its number, then ctrl+t (or enter).", style="bold")
            )
            return
        self.ticket = ticket
        self.run()

    @on(Input.Submitted, "#dry-ticket, #dry-change")
    def _submitted(self) -> None:
        self.start()

    @on(Input.Changed, "#dry-ticket, #dry-change")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()  # the panel's own fields, not the draft: the editor's check need not run

    def follow(self) -> None:
        """The draft changed (and compiles): once a ticket is chosen, try it again in a moment."""
        if not self.ticket:
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DRY_RUN_DELAY, self.run)

    @work(group="dry-run", exclusive=True)
    async def run(self) -> None:
        result = self.query_one("#dry-result", Static)
        self.plan = None  # what shows next is this run's (a refusal is not drawn over on a resize)
        typed = self.query_one("#dry-change", Input).value
        try:
            changes = {} if typed.strip().lower() == LATEST else ab.parse_change(typed)
        except TesseraError as exc:
            result.update(safe.text(exc.message, "bold"))
            return
        ticket = self.ticket or self.query_one("#dry-ticket", Input).value.strip()
        draft = self.draft()
        # Held, not queried again after the wait: the editor may be closed by then (its widgets gone).
        scroll = self.query_one("#dry-scroll")
        scroll.loading = True
        try:
            plan = await self.backend.call(
                ab.dry_run, draft.spec, draft.template, ticket, changes, draft.scrip_id
            )
        except TesseraError as exc:  # the reason stays in the panel, not in a passing toast
            refused = Text("The dry-run was refused:\n", style="bold")
            refused.append(safe.clean(exc.message))
            result.update(refused)
            scroll.border_title = "refused"
            return
        finally:
            if scroll.is_attached:
                scroll.loading = False
        self.plan = plan
        self._drawn_at = -1
        self._redraw()
        scroll.border_title = "fires" if plan["fires"] else "does not fire"
        self.call_after_refresh(self._redraw)  # the scroll's width once laid out after loading

    def on_resize(self) -> None:
        self.call_after_refresh(self._redraw)

    def _redraw(self) -> None:
        """The mail's lines are wrapped for the width (under their bar), so again at a new one."""
        if self.plan is None or not self.is_attached:
            return
        width = self.query_one("#dry-scroll").scrollable_content_region.width
        if width != self._drawn_at:
            self._drawn_at = width
            self.query_one("#dry-result", Static).update(render_dry_run(self.plan, width))


BAR = "  │ "
HANG = "    "  # a header's wrapped rows start here, under its name


def wrapped(line: str, room: int) -> list[str]:
    """`line` as the rows it takes `room` cells wide (as it is when the room is not known)."""
    if room < 8 or not line:
        return [line]
    starts = [0, *divide_line(line, room, fold=True), len(line)]
    return [line[a:b].rstrip(" ") or line[a:b] for a, b in pairwise(starts) if a < b]


def barred(line: str, width: int) -> list[str]:
    """A body line as the rows it takes in a panel `width` cells wide, each to go after the bar:
    a row that wrapped at the panel's edge started at column 0 and read as text outside the mail."""
    return wrapped(line, width - len(BAR)) if width > 0 else [line]


def header(out: Text, name: str, value: str, width: int) -> None:
    """`  Name: value`, its wrapped rows under the name rather than at column 0."""
    label = f"  {safe.clean_line(name)}: "
    value = safe.clean_line(value)
    first, *rest = wrapped(value, width - len(label)) if width > 0 else [value]
    if rest:  # the rows after the first, wrapped again to the room after HANG
        rest = wrapped(value[len(first) :].lstrip(" "), width - len(HANG))
    out.append(label, style="bold")
    out.append(first + "\n")
    for row in rest:
        out.append(HANG + row + "\n")


def render_dry_run(plan: dict[str, Any], width: int = 0) -> Text:
    """What the draft would do: condition, mail (headers, recipients, body), field changes; the
    mail's lines wrapped for a panel `width` cells wide (0: not known yet), the body's under
    their bar and a header's under its name."""
    out = Text()
    out.append(safe.clean_line(f"{plan['ticket']} · {plan['trigger']}") + "\n", style="bold")
    for note in plan.get("notes", []):
        out.append("! " + safe.clean_line(note) + "\n", style="bold italic")
    if not plan.get("runs"):
        out.append("The scrip does not run.\n")
    for run in plan.get("runs", []):
        depth = f" (nested {run['depth']})" if run.get("depth") else ""
        name = run.get("condition_name") or "condition"
        out.append(safe.clean_line(f"{name}{depth}") + ": ", style="bold")
        out.append(f"{run['condition']}")
        if run["condition"] == "true":
            out.append(f" → {run['outcome']}", style="bold")
        if run.get("reason"):
            out.append(": " + safe.clean_line(run["reason"]))
        if run.get("transaction_type"):
            out.append(" ")
            out.append(safe.clean_line(f"(on a {run['transaction_type']} transaction)"), style="dim")
        out.append("\n")
    for n, message in enumerate(plan.get("messages", []), start=1):
        out.append(f"\nMail {n}\n", style="bold underline")
        header(out, "From", message.get("from") or "", width)
        for label in ("to", "cc", "bcc"):
            people = message.get(label) or []
            if people:
                header(out, label.capitalize(), ", ".join(people), width)
        header(out, "Subject", message.get("subject") or "", width)
        headers = message.get("headers") or {}
        pairs = headers.items() if isinstance(headers, dict) else headers
        for name, value in pairs:
            if name.lower() not in SHOWN_ELSEWHERE:
                header(out, name, value, width)
        out.append("\n")
        for body_line in safe.clean(message.get("body") or "").rstrip().split("\n"):
            for row in barred(body_line, width):
                out.append(BAR + row + "\n")
    changes = plan.get("changes") or [c for r in plan.get("runs", []) for c in r.get("changes", [])]
    if changes:
        out.append("\nField changes\n", style="bold underline")
        for change in changes:
            line = f"  {change.get('field')}: {change.get('old') or '-'} → {change.get('new') or '-'}"
            out.append(safe.clean_line(line) + "\n")
    if not plan.get("messages") and not changes and plan.get("fires"):
        out.append("\n(no mail and no change)\n", style="dim")
    out.append("\nNothing was written and nothing was sent.\n", style="dim italic")
    return out

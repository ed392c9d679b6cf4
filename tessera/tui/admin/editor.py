"""The built-in scrip editor: condition, action and template in one screen, validated as you type,
with a live dry-run beside it; and the revision history with diffs and revert.

The template is a TextArea with Jinja highlighting (tree-sitter-jinja registered on the instance;
without it, plain text), line numbers, undo/redo (ctrl+z / ctrl+y), find (ctrl+f, F3) and go to
line (ctrl+g). Problems are found in a worker (the sandbox compiles the template, expressions are
parsed, names are checked) and shown at their line: the line is marked in the text, and F8 jumps to
it. ctrl+t dry-runs the text as it stands on a ticket (nothing written, nothing sent); once a ticket
is chosen the dry-run follows every edit. ctrl+s saves: one revision per saved object. F6 shows
the history (diffs; r reverts), F4 edits the focused text in $EDITOR, escape leaves (y/N if unsaved).
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.color import Color
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option
from textual.widgets.text_area import Selection

from tessera.core.errors import TesseraError
from tessera.scrips import admin
from tessera.tui import safe
from tessera.tui.actions import bindings, bindings_for
from tessera.tui.admin import backend as ab
from tessera.tui.backend import Backend
from tessera.tui.footer import QuietFooter
from tessera.tui.screens import Choice, ConfirmScreen, PickerScreen, PromptScreen

CHECK_DELAY = 0.3
NARROW = 120  # narrower than this: the dry-run goes below the template, shown with ctrl+t / F7
DRY_RUN_DELAY = 0.8
EXPRESSION = "(expression)"
GLOBAL = "(global)"
# Headers the dry-run does not repeat (shown above, or different on every run).
SHOWN_ELSEWHERE = ("subject", "to", "cc", "bcc", "from", "message-id", "date", "references", "in-reply-to")


@cache
def jinja_language() -> tuple[Any, str] | None:
    """The tree-sitter Jinja grammar and its highlight query, if the wheel is installed."""
    try:
        from importlib.resources import files

        import tree_sitter_jinja
        from tree_sitter import Language
    except ImportError:
        return None
    query = (files(tree_sitter_jinja) / "queries" / "highlights.scm").read_text(encoding="utf-8")
    return Language(tree_sitter_jinja.language()), query


class CodeArea(TextArea):
    """A TextArea that marks the lines with problems (the error line shown where it is)."""

    def __init__(self, text: str = "", *, kind: str = "template", **kwargs: Any) -> None:
        super().__init__(text, show_line_numbers=True, soft_wrap=False, tab_behavior="indent", **kwargs)
        self.kind = kind
        self.marks: dict[int, str] = {}
        grammar = jinja_language() if kind == "template" else None
        if grammar is not None:
            self.register_language("jinja", grammar[0], grammar[1])
            self.language = "jinja"
        elif kind == "expression":
            try:
                self.language = "python"  # Jinja expressions read like Python
            except Exception:
                self.language = None

    def set_marks(self, marks: dict[int, str]) -> None:
        if marks != self.marks:
            self.marks = marks
            cache_ = getattr(self, "_line_cache", None)
            if cache_ is not None:
                cache_.clear()
            self.refresh()

    def get_line(self, line_index: int) -> Text:
        line = super().get_line(line_index)
        severity = self.marks.get(line_index)
        if severity is not None:
            theme = self.app.current_theme
            colour = Color.parse((theme.error if severity == "error" else theme.warning) or "red")
            ground = Color.parse(
                theme.surface or theme.background or ("#000000" if theme.dark else "#ffffff")
            )
            tint = ground.blend(colour, 0.25)
            line.stylize(Style(underline=True, bgcolor=tint.rich_color, bold=severity == "error"))
            if not line.plain:
                line.append(" ", Style(bgcolor=tint.rich_color))
        return line


class ChoiceChanged(Message):
    """A ChoiceField took a new value."""

    def __init__(self, field: ChoiceField) -> None:
        super().__init__()
        self.field = field


class ChoiceField(Static, can_focus=True):
    """One line showing a choice; enter or space opens the list to pick from."""

    BINDINGS: ClassVar[list[BindingType]] = []

    def __init__(self, label: str, value: str, choices: list[Choice], **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.label_text = label
        self.value = value
        self.choices = choices
        self._show()

    def _show(self) -> None:
        text = Text()
        text.append(safe.clean_line(self.value) or "-", style="bold")
        text.append("  ▾", style="dim")
        self.update(text)

    def set_value(self, value: str) -> None:
        if value != self.value:
            self.value = value
            self._show()
            self.post_message(ChoiceChanged(self))

    async def _on_key(self, event: Any) -> None:
        if event.key in ("enter", "space"):
            event.stop()
            self.pick()

    def on_click(self) -> None:
        self.pick()

    @work(group="compose")
    async def pick(self) -> None:
        chosen = await self.app.push_screen_wait(PickerScreen(self.label_text, self.choices))
        if chosen is not None:
            self.set_value(chosen)


def _row(label: str, *widgets: Any, id: str | None = None) -> Horizontal:
    return Horizontal(Label(label, classes="ad-label"), *widgets, classes="ad-row", id=id)


def render_dry_run(plan: dict[str, Any]) -> Text:
    """What the draft would do: condition, mail (headers, recipients, body), field changes."""
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
        out.append("  From: ", style="bold")
        out.append(safe.clean_line(message.get("from") or "") + "\n")
        for label in ("to", "cc", "bcc"):
            people = message.get(label) or []
            if people:
                out.append(f"  {label.capitalize()}: ", style="bold")
                out.append(safe.clean_line(", ".join(people)) + "\n")
        out.append("  Subject: ", style="bold")
        out.append(safe.clean_line(message.get("subject") or "") + "\n")
        headers = message.get("headers") or {}
        pairs = headers.items() if isinstance(headers, dict) else headers
        for name, value in pairs:
            if name.lower() not in SHOWN_ELSEWHERE:
                out.append(f"  {safe.clean_line(name)}: ", style="bold")
                out.append(safe.clean_line(value) + "\n")
        out.append("\n")
        for body_line in safe.clean(message.get("body") or "").rstrip().split("\n"):
            out.append("  │ " + body_line + "\n")
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


class EditorScreen(Screen[bool]):
    """Edit one scrip (with its template) or, with `template_only`, one template. Dismisses True
    when something was saved."""

    CSS_PATH = "admin.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [*bindings("editor"), *bindings_for("help")]

    def __init__(
        self,
        backend: Backend,
        *,
        scrip: dict[str, Any] | None = None,
        template: dict[str, Any] | None = None,
        queues: list[str] | None = None,
        template_only: bool = False,
        default_queue: str | None = None,
    ) -> None:
        super().__init__(classes="admin-editor")
        self.backend = backend
        self.template_only = template_only
        self.queues = queues or []
        self.scrip_id: int | None = scrip["id"] if scrip else None
        self.updated: str | None = scrip["updated"] if scrip else None
        self.spec: dict[str, Any] = dict(scrip["spec"]) if scrip else admin.new_scrip_spec(default_queue)
        info = template if template is not None else (scrip or {}).get("template")
        self.template_id: int | None = info["id"] if info else None
        self.template_updated: str | None = info["updated"] if info else None
        self.template_entry: dict[str, Any] = dict(info["entry"]) if info else {"name": "", "content": ""}
        if template_only and not info:
            self.template_entry = {"name": "", "content": "Subject: \n\n"}
        self.used_by: int = info.get("used_by", 0) if info else 0
        self.saved_state: tuple[Any, ...] | None = None
        self.problems: list[admin.Problem] = []
        self.saved_any = False
        self._check_timer: Timer | None = None
        self._dry_timer: Timer | None = None
        self._find_text = ""
        self.dry_ticket = ""
        self.refused_save = False
        self.narrow = False
        self.dry_shown = False

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        choices = admin.choices()
        spec = self.spec
        condition = spec.get("condition") or {}
        queue_choices = [Choice(GLOBAL, GLOBAL, "every queue"), *(Choice(q, q) for q in self.queues)]
        title = self._title()
        yield Static(safe.line(title, "bold"), id="editor-title")
        with Horizontal(id="editor-main"):
            with Vertical(id="editor-left"):
                if not self.template_only:
                    yield _row("Description", Input(spec.get("description", ""), id="ed-description"))
                    yield _row(
                        "Applies to",
                        ChoiceField("Applies to", spec.get("queue") or GLOBAL, queue_choices, id="ed-queue"),
                        Label("Stage", classes="ad-label-inline"),
                        ChoiceField(
                            "Stage",
                            spec.get("stage", "TransactionCreate"),
                            [Choice(s["name"], s["name"]) for s in choices["stages"]],
                            id="ed-stage",
                        ),
                        Label("Enabled", classes="ad-label-inline"),
                        ChoiceField(
                            "Enabled",
                            "yes" if spec.get("enabled", True) else "no",
                            [Choice("yes", "yes"), Choice("no", "no", "saved, but never run")],
                            id="ed-enabled",
                        ),
                    )
                    condition_choices = [
                        *(
                            Choice(c["name"], c["name"], f"{c['types']} · {c['help']}")
                            for c in choices["conditions"]
                        ),
                        Choice(
                            EXPRESSION, EXPRESSION, "a sandboxed Jinja expression, e.g. ticket.priority > 50"
                        ),
                    ]
                    yield _row(
                        "Condition",
                        ChoiceField(
                            "Condition",
                            EXPRESSION
                            if condition.get("expression")
                            else (condition.get("name") or "OnCreate"),
                            condition_choices,
                            id="ed-condition",
                        ),
                        Input(
                            condition.get("argument", ""),
                            placeholder="argument, e.g. open -> resolved",
                            id="ed-condition-arg",
                        ),
                    )
                    yield CodeArea(condition.get("expression") or "", kind="expression", id="ed-expression")
                    action = spec.get("action") or {}
                    yield _row(
                        "Action",
                        ChoiceField(
                            "Action",
                            action.get("name") or "Notify",
                            [Choice(a["name"], a["name"], a["help"]) for a in choices["actions"]],
                            id="ed-action",
                        ),
                        Input(
                            action.get("argument", ""),
                            placeholder="argument, e.g. Requestor,Cc",
                            id="ed-action-arg",
                        ),
                    )
                    yield Static("", id="ed-action-help")
                    yield _row(
                        "Template",
                        Input(spec.get("template") or "", placeholder="template name", id="ed-template-name"),
                        Static("", id="ed-template-note"),
                    )
                else:
                    yield _row(
                        "Name",
                        Input(self.template_entry.get("name", ""), id="ed-template-name"),
                        Label("Queue", classes="ad-label-inline"),
                        ChoiceField(
                            "Template of",
                            self.template_entry.get("queue") or GLOBAL,
                            queue_choices,
                            id="ed-template-queue",
                        ),
                    )
                    yield Static("", id="ed-template-note")
                area = CodeArea(self.template_entry.get("content", ""), kind="template", id="ed-template")
                yield area
                yield Input(placeholder="find (enter: next, esc: close)", id="ed-find")
                yield Static("", id="ed-problems")
            if not self.template_only:
                with Vertical(id="editor-right"):
                    yield Label(Text("Dry run (ctrl+t)", style="bold"))
                    yield Static("", id="dry-hint")
                    yield _row("Ticket", Input(placeholder="42 or TKT-0042", id="dry-ticket"))
                    yield _row("Change", Input(placeholder="status=resolved", id="dry-change"))
                    yield Static(
                        Text("Change: FIELD=VALUE …; empty: the latest transaction", style="dim"),
                        id="dry-change-help",
                    )
                    with VerticalScroll(id="dry-scroll"):
                        yield Static(
                            Text("Choose a ticket (and a change), then ctrl+t.", style="dim"),
                            id="dry-result",
                        )
        yield QuietFooter()

    def _title(self) -> str:
        if self.template_only:
            name = self.template_entry.get("name") or "new template"
            return f"Template: {name}"
        if self.scrip_id is None:
            return "New scrip"
        return f"Scrip {self.scrip_id}: {self.spec.get('description', '')}"

    # -- narrow terminals: the dry-run below the template, shown on demand -------------------------

    def on_resize(self, event: Any) -> None:
        self.set_narrow(self.size.width < NARROW)

    def set_narrow(self, narrow: bool) -> None:
        self.narrow = narrow
        self.set_class(narrow, "-narrow")
        self.show_dry(self.dry_shown)

    def show_dry(self, shown: bool) -> None:
        self.dry_shown = shown
        self.set_class(shown, "-dry-shown")
        if self.template_only:
            return
        hint = self.query_one("#dry-hint", Static)
        hint.update(
            Text(
                "F7 hides this panel · nothing is written, nothing is sent"
                if self.narrow
                else "Nothing is written, nothing is sent.",
                style="dim",
            )
        )

    def action_dry_panel(self) -> None:
        """F7: on a narrow terminal show or hide the dry-run panel (below the template)."""
        if self.template_only:
            return
        if not self.narrow:
            self.query_one("#dry-ticket").focus()
            return
        self.show_dry(not self.dry_shown)
        if self.dry_shown:
            self.query_one("#dry-ticket").focus()
        elif self.focused is None or "editor-right" in {a.id for a in self.focused.ancestors}:
            self.query_one("#ed-template").focus()

    def on_mount(self) -> None:
        self.set_narrow(self.size.width < NARROW)
        self.query_one("#ed-find").display = False
        area = self.query_one("#ed-template", CodeArea)
        grammar = "Jinja highlighting" if jinja_language() else "no Jinja grammar installed: plain text"
        area.border_title = "Template (headers, a blank line, the body)"
        area.border_subtitle = grammar
        if not self.template_only:
            self.query_one("#ed-expression").border_title = "Expression"
            self._condition_shown()
            self._action_help()
            self.query_one("#ed-description").focus()
        else:
            area.focus()
        self._template_note()
        self.saved_state = self.state()
        self.schedule_check()

    # -- the draft ---------------------------------------------------------------------------

    def _value(self, selector: str) -> str:
        return self.query_one(selector, Input).value

    def current_spec(self) -> dict[str, Any]:
        spec = dict(self.spec)
        if self.template_only:
            return spec
        queue = self.query_one("#ed-queue", ChoiceField).value
        condition_name = self.query_one("#ed-condition", ChoiceField).value
        if condition_name == EXPRESSION:
            condition: dict[str, Any] = {"expression": self.query_one("#ed-expression", CodeArea).text}
        else:
            condition = {"name": condition_name, "argument": self._value("#ed-condition-arg")}
        out: dict[str, Any] = {"description": self._value("#ed-description")}
        if queue != GLOBAL:
            out["queue"] = queue
        out.update(
            {
                "stage": self.query_one("#ed-stage", ChoiceField).value,
                "order": spec.get("order", 0),
                "enabled": self.query_one("#ed-enabled", ChoiceField).value == "yes",
                "condition": condition,
                "action": {
                    "name": self.query_one("#ed-action", ChoiceField).value,
                    "argument": self._value("#ed-action-arg"),
                },
                "template": self._value("#ed-template-name").strip() or None,
            }
        )
        return out

    def current_template(self) -> dict[str, Any] | None:
        """The template being edited (an export entry), or None when the scrip uses none."""
        content = self.query_one("#ed-template", CodeArea).text
        if self.template_only:
            entry = {"name": self._value("#ed-template-name").strip()}
            queue = self.query_one("#ed-template-queue", ChoiceField).value
            if queue != GLOBAL:
                entry["queue"] = queue
            entry["content"] = content
            if self.template_entry.get("description"):
                entry["description"] = self.template_entry["description"]
            return entry
        name = self._value("#ed-template-name").strip()
        if not name:
            return None
        entry = {"name": name}
        if self.template_id is not None and self.template_entry.get("name", "").lower() == name.lower():
            if self.template_entry.get("queue"):
                entry["queue"] = self.template_entry["queue"]
        elif self.current_spec().get("queue"):
            entry["queue"] = self.current_spec()["queue"]
        entry["content"] = content
        return entry

    def state(self) -> tuple[Any, ...]:
        return (repr(self.current_spec()), repr(self.current_template()))

    @property
    def dirty(self) -> bool:
        return self.saved_state is not None and self.state() != self.saved_state

    # -- reacting to edits -------------------------------------------------------------------

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _edited(self, event: Any) -> None:
        control = getattr(event, "control", None) or getattr(event, "text_area", None)
        if control is not None and control.id in ("ed-find", "dry-ticket", "dry-change"):
            return
        if control is not None and control.id == "ed-template-name":
            self._template_renamed()
        self.schedule_check()

    @on(ChoiceChanged)
    def _choice(self, event: ChoiceChanged) -> None:
        if event.field.id == "ed-condition":
            self._condition_shown()
        elif event.field.id == "ed-action":
            self._action_help()
        self.schedule_check()

    def _condition_shown(self) -> None:
        expression = self.query_one("#ed-condition", ChoiceField).value == EXPRESSION
        self.query_one("#ed-expression").display = expression
        self.query_one("#ed-condition-arg").display = not expression

    def _action_help(self) -> None:
        name = self.query_one("#ed-action", ChoiceField).value
        found = next((a for a in admin.choices()["actions"] if a["name"] == name), None)
        text = (found or {}).get("help") or ""
        self.query_one("#ed-action-help", Static).update(Text(safe.clean_line(text), style="dim"))

    def _template_note(self) -> None:
        note = self.query_one("#ed-template-note", Static)
        entry = self.template_entry
        if self.template_id is None:
            words = "new: saved with the scrip"
        else:
            scope = f"queue {entry.get('queue')}" if entry.get("queue") else "global"
            words = f"{scope} · used by {self.used_by} scrip(s)"
        note.update(Text(safe.clean_line(words), style="dim"))

    @work(group="template-load", exclusive=True)
    async def _template_renamed(self) -> None:
        """A scrip pointed at another template: load that one (the queue's, else the global one)."""
        if self.template_only:
            return
        name = self._value("#ed-template-name").strip()
        if not name or name.lower() == (self.template_entry.get("name") or "").lower():
            return
        queue = self.current_spec().get("queue")
        info = await self.tui_db(ab.template_for, self.backend, name, queue)
        if info is None or name != self._value("#ed-template-name").strip():
            return
        area = self.query_one("#ed-template", CodeArea)
        if info["id"] is not None:
            self.template_id, self.template_updated = info["id"], info["updated"]
            self.template_entry, self.used_by = dict(info["entry"]), info["used_by"]
            area.load_text(info["entry"]["content"])
        else:
            self.template_id, self.template_updated = None, None
            self.template_entry, self.used_by = {"name": name, "content": area.text}, 0
        self._template_note()
        self.schedule_check()

    def schedule_check(self) -> None:
        if self._check_timer is not None:
            self._check_timer.stop()
        self._check_timer = self.set_timer(CHECK_DELAY, self._start_check)

    def _start_check(self) -> None:
        self.validate(self.current_spec(), self.current_template())

    @work(thread=True, exclusive=True, group="validate")
    def validate(self, spec: dict[str, Any], template: dict[str, Any] | None) -> None:
        if self.template_only:
            problems = admin.check_template_text((template or {}).get("content") or "")
            if not (template or {}).get("name"):
                problems.insert(0, admin.Problem("name", "a template needs a name"))
        else:
            problems = admin.check_draft(spec, template)
        self.app.call_from_thread(self.show_problems, problems)

    def show_problems(self, problems: list[admin.Problem]) -> None:
        from textual.css.query import NoMatches

        try:
            self._show_problems(problems)
        except NoMatches:  # the check finished after the editor was closed: nothing to show it in
            return

    def _show_problems(self, problems: list[admin.Problem]) -> None:
        self.problems = problems
        template_marks: dict[int, str] = {}
        expression_marks: dict[int, str] = {}
        for p in problems:
            if p.line is None:
                continue
            target = template_marks if p.field == "template" else expression_marks
            if p.field in ("template", "expression") and target.get(p.line - 1) != "error":
                target[p.line - 1] = p.severity
        self.query_one("#ed-template", CodeArea).set_marks(template_marks)
        if not self.template_only:
            self.query_one("#ed-expression", CodeArea).set_marks(expression_marks)
        out = Text()
        errors = [p for p in problems if p.severity == "error"]
        self.refused_save = self.refused_save and bool(errors)
        if self.refused_save:
            out.append("Not saved: fix this first (F8 goes to it)\n", style="bold reverse")
        if not problems:
            out.append("✓ compiles; every name it uses exists", style="bold")
        for p in problems[:6]:
            mark = "✗" if p.severity == "error" else "!"
            out.append(f"{mark} {p.field} ", style="bold")
            out.append(safe.clean_line(p.text()) + "\n")
        if len(problems) > 6:
            out.append(f"… {len(problems) - 6} more\n", style="dim")
        widget = self.query_one("#ed-problems", Static)
        widget.update(out)
        widget.set_class(bool(errors), "-error")
        area = self.query_one("#ed-template", CodeArea)
        first = next((p for p in errors if p.field == "template"), None)
        area.border_subtitle = (
            f"✗ {first.text()}"
            if first
            else ("Jinja highlighting" if jinja_language() else "plain text (no Jinja grammar installed)")
        )
        if self.dry_ticket and not errors:
            self.schedule_dry_run()

    # -- database calls ----------------------------------------------------------------------

    async def tui_db(self, fn: Any, *args: Any) -> Any:
        """The main screen's `db`: a worker thread, a TesseraError shown as one line."""
        from tessera.tui.app import MainScreen

        main = next((s for s in self.app.screen_stack if isinstance(s, MainScreen)), None)
        if main is not None:
            return await main.db(fn, *args)
        import asyncio

        try:
            return await asyncio.to_thread(fn, *args)
        except TesseraError as exc:
            self.notify(exc.message, severity="error", markup=False, timeout=8)
            return None

    # -- actions -----------------------------------------------------------------------------

    @work(group="editor-save", exclusive=True)
    async def action_save(self) -> None:
        spec, template = self.current_spec(), self.current_template()
        if self.template_only:
            problems = admin.check_template_text((template or {}).get("content") or "")
        else:
            problems = admin.check_draft(spec, template)
        self.show_problems(problems)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            # Not a toast: the problem is shown at its line and in the list below the text.
            self.refused_save = True
            self.show_problems(problems)
            self.jump_to(errors[0])
            return
        if self.template_only:
            saved = await self.tui_db(
                ab.save_template, self.backend, self.template_id, template, self.template_updated
            )
            if saved is None:
                return
            self.load_template(saved)
        else:
            saved = await self.tui_db(
                ab.save_scrip,
                self.backend,
                self.scrip_id,
                spec,
                template,
                self.updated,
                self.template_updated,
            )
            if saved is None:
                return
            self.load_scrip(saved)
        self.saved_any = True
        self.saved_state = self.state()
        self.query_one("#editor-title", Static).update(safe.line(self._title(), "bold"))
        self.notify(
            "Saved: a new revision (H in the list or F6 here shows the history)", markup=False, timeout=4
        )

    def load_scrip(self, saved: dict[str, Any]) -> None:
        self.scrip_id, self.updated, self.spec = saved["id"], saved["updated"], dict(saved["spec"])
        info = saved.get("template")
        if info is not None:
            self.template_id, self.template_updated = info["id"], info["updated"]
            self.template_entry, self.used_by = dict(info["entry"]), info["used_by"]
        self._template_note()

    def load_template(self, saved: dict[str, Any]) -> None:
        self.template_id, self.template_updated = saved["id"], saved["updated"]
        self.template_entry, self.used_by = dict(saved["entry"]), saved["used_by"]
        self._template_note()

    def action_dry_run(self) -> None:
        if self.template_only:
            self.notify("Dry-run a template from a scrip that uses it", markup=False)
            return
        ticket = self._value("#dry-ticket").strip()
        if self.narrow and not self.dry_shown:
            self.show_dry(True)
        if not ticket:
            self.query_one("#dry-ticket").focus()
            self.query_one("#dry-result", Static).update(
                Text("Which ticket? Type its number, then ctrl+t (or enter).", style="bold")
            )
            return
        self.dry_ticket = ticket
        self.run_dry()

    @on(Input.Submitted, "#dry-ticket, #dry-change")
    def _dry_submitted(self) -> None:
        self.action_dry_run()

    def schedule_dry_run(self) -> None:
        if self._dry_timer is not None:
            self._dry_timer.stop()
        self._dry_timer = self.set_timer(DRY_RUN_DELAY, self.run_dry)

    @work(group="dry-run", exclusive=True)
    async def run_dry(self) -> None:
        import asyncio

        result = self.query_one("#dry-result", Static)
        try:
            changes = ab.parse_change(self._value("#dry-change"))
        except TesseraError as exc:
            result.update(safe.text(exc.message, "bold"))
            return
        ticket = self.dry_ticket or self._value("#dry-ticket").strip()
        spec, template = self.current_spec(), self.current_template()
        # Held, not queried again after the wait: the editor may be closed by then (its widgets gone).
        scroll = self.query_one("#dry-scroll")
        scroll.loading = True
        try:
            plan = await asyncio.to_thread(
                ab.dry_run, self.backend, spec, template, ticket, changes, self.scrip_id
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
        result.update(render_dry_run(plan))
        scroll.border_title = "fires" if plan["fires"] else "does not fire"

    def jump_to(self, problem: admin.Problem) -> None:
        if problem.field in ("template", "expression") and problem.line:
            area = self.query_one(
                "#ed-template" if problem.field == "template" else "#ed-expression", CodeArea
            )
            area.focus()
            area.move_cursor((problem.line - 1, 0))
            area.scroll_cursor_visible()
            return
        target = {
            "description": "#ed-description",
            "condition": "#ed-condition",
            "condition.argument": "#ed-condition-arg",
            "action": "#ed-action",
            "action.argument": "#ed-action-arg",
            "template": "#ed-template-name",
            "name": "#ed-template-name",
        }.get(problem.field)
        if target:
            self.query_one(target).focus()

    def action_next_problem(self) -> None:
        if not self.problems:
            self.notify("No problems", markup=False, timeout=2)
            return
        focused = self.focused
        row = focused.cursor_location[0] + 1 if isinstance(focused, CodeArea) else 0
        field = focused.kind if isinstance(focused, CodeArea) else None
        after = [p for p in self.problems if p.field == field and (p.line or 0) > row]
        problem = after[0] if after else self.problems[0]
        self.jump_to(problem)
        self.notify(f"{problem.field} {problem.text()}", markup=False, timeout=4)

    def _area(self) -> CodeArea:
        focused = self.focused
        return focused if isinstance(focused, CodeArea) else self.query_one("#ed-template", CodeArea)

    def action_find(self) -> None:
        self._find_area = self._area()
        field = self.query_one("#ed-find", Input)
        field.display = True
        field.value = self._find_text
        field.focus()

    @on(Input.Submitted, "#ed-find")
    def _find_submitted(self, event: Input.Submitted) -> None:
        self._find_text = event.value
        self.find_next(keep_focus=True)

    @on(Input.Changed, "#ed-find")
    def _find_typed(self, event: Input.Changed) -> None:
        self._find_text = event.value

    def action_find_next(self) -> None:
        self.find_next(keep_focus=False)

    def find_next(self, *, keep_focus: bool) -> None:
        needle = self._find_text
        if not needle:
            self.action_find()
            return
        area: CodeArea = getattr(self, "_find_area", None) or self.query_one("#ed-template", CodeArea)
        lines = area.text.split("\n")
        row, col = area.selection.end
        found = None
        for offset in range(len(lines) + 1):
            index = (row + offset) % len(lines)
            start = col if offset == 0 else 0
            at = lines[index].lower().find(needle.lower(), start)
            if at >= 0:
                found = (index, at)
                break
        if found is None:
            self.notify(f"Not found: {safe.clean_line(needle)}", markup=False, timeout=2)
            return
        area.selection = Selection(found, (found[0], found[1] + len(needle)))
        area.scroll_cursor_visible()
        if not keep_focus:
            area.focus()

    def action_help(self) -> None:
        from tessera.tui.keymap import keymap_path
        from tessera.tui.screens import HelpScreen

        self.app.push_screen(HelpScreen(getattr(self.app, "keymap", {}), str(keymap_path())))

    def action_external(self) -> None:
        """F4: the focused text (the template unless the expression is focused) in $EDITOR, in a
        temporary `.j2` file so the editor highlights Jinja; the text comes back when it exits."""
        import tempfile
        from pathlib import Path

        from tessera.tui import remote

        area = self._area()
        with tempfile.TemporaryDirectory(prefix="tessera-scrip-") as folder:
            path = Path(folder) / ("template.j2" if area.kind == "template" else "expression.j2")
            path.write_text(area.text, encoding="utf-8")
            if not remote.edit_in_editor(self, path):
                return
            text = path.read_text(encoding="utf-8")
        if text != area.text:
            area.replace(text, area.document.start, area.document.end)  # one undoable edit
        area.focus()

    @work(group="compose")
    async def action_goto(self) -> None:
        area = self._area()
        answer = await self.app.push_screen_wait(PromptScreen("Go to line", ""))
        if not answer or not answer.strip().isdigit():
            return
        line = max(1, min(int(answer), area.document.line_count))
        area.focus()
        area.move_cursor((line - 1, 0))
        area.scroll_cursor_visible()

    @work(group="compose")
    async def action_history(self) -> None:
        kind, object_id = ("template", self.template_id) if self.template_only else ("scrip", self.scrip_id)
        if object_id is None:
            self.notify("Not saved yet: no history", markup=False, timeout=3)
            return
        if self.dirty and not await self.app.push_screen_wait(
            ConfirmScreen("Your unsaved edits are lost if you revert. Open the history?")
        ):
            return
        name = self.template_entry.get("name", "") if self.template_only else self.spec.get("description", "")
        reverted = await self.app.push_screen_wait(
            HistoryScreen(self.backend, kind, object_id, self.tui_db, name=name)
        )
        if reverted:
            if self.template_only:
                fresh = await self.tui_db(ab.template, self.backend, object_id)
                if fresh is not None:
                    self.load_template(fresh)
                    self.query_one("#ed-template", CodeArea).load_text(fresh["entry"]["content"])
            else:
                fresh = await self.tui_db(ab.scrip, self.backend, object_id)
                if fresh is not None:
                    self.reload_scrip(fresh)
            self.saved_any = True
            self.saved_state = self.state()
            self.query_one("#editor-title", Static).update(safe.line(self._title(), "bold"))

    def reload_scrip(self, fresh: dict[str, Any]) -> None:
        self.load_scrip(fresh)
        spec = fresh["spec"]
        condition = spec.get("condition") or {}
        self.query_one("#ed-description", Input).value = spec.get("description", "")
        self.query_one("#ed-queue", ChoiceField).set_value(spec.get("queue") or GLOBAL)
        self.query_one("#ed-stage", ChoiceField).set_value(spec.get("stage", "TransactionCreate"))
        self.query_one("#ed-enabled", ChoiceField).set_value("yes" if spec.get("enabled", True) else "no")
        self.query_one("#ed-condition", ChoiceField).set_value(
            EXPRESSION if condition.get("expression") else condition.get("name") or "OnCreate"
        )
        self.query_one("#ed-condition-arg", Input).value = condition.get("argument", "")
        self.query_one("#ed-expression", CodeArea).load_text(condition.get("expression") or "")
        action = spec.get("action") or {}
        self.query_one("#ed-action", ChoiceField).set_value(action.get("name") or "Notify")
        self.query_one("#ed-action-arg", Input).value = action.get("argument", "")
        self.query_one("#ed-template-name", Input).value = spec.get("template") or ""
        if fresh.get("template"):
            self.query_one("#ed-template", CodeArea).load_text(fresh["template"]["entry"]["content"])
        self._condition_shown()
        self.schedule_check()

    @work(group="compose")
    async def action_close(self) -> None:
        find = self.query_one("#ed-find", Input)
        if find.display:
            find.display = False
            getattr(self, "_find_area", self.query_one("#ed-template")).focus()
            return
        if self.dirty and not await self.app.push_screen_wait(
            ConfirmScreen(
                f"Discard your unsaved changes to this {'template' if self.template_only else 'scrip'}?"
                " (n keeps editing)"
            )
        ):
            return
        self.dismiss(self.saved_any)


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

    def __init__(self, backend: Backend, kind: str, object_id: int, db: Any, name: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.backend = backend
        self.kind = kind
        self.object_id = object_id
        self.object_name = name
        self.db = db
        self.rows: list[dict[str, Any]] = []

    def version(self, index: int) -> int:
        """Versions are numbered per object from 1 (the oldest); the list is newest first."""
        return len(self.rows) - index

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
        rows = await self.db(ab.revisions, self.backend, self.kind, self.object_id)
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
        done = await self.db(ab.revert, self.backend, row["id"])
        if done is not None:
            self.notify(f"Reverted to version v{version} (a new version)", markup=False, timeout=4)
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

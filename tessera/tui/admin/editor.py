"""The built-in scrip editor: condition, action and template in one screen, validated as you type,
with a live dry-run beside it (tessera.tui.admin.dry_run); its fields are in
tessera.tui.admin.editor_fields, the revision history in tessera.tui.admin.revisions_screen.

The template is a TextArea with Jinja highlighting (tree-sitter-jinja registered on the instance;
without it, plain text), line numbers, undo/redo (ctrl+z / ctrl+y), find (ctrl+f, F3) and go to
line (ctrl+g). Problems are found in a worker (the sandbox compiles the template, expressions are
parsed, names are checked) and shown at their line: the line is marked in the text, and F8 jumps to
it. ctrl+t dry-runs the text as it stands on a ticket (nothing written, nothing sent); once a ticket
is chosen the dry-run follows every edit. ctrl+s saves: one revision per saved object. F6 shows
the history (diffs; r reverts), F4 edits the focused text in $EDITOR, escape leaves (y/N if unsaved).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static, TextArea

from tessera.scrips import checks, editing
from tessera.tui import safe
from tessera.tui.actions import bindings, bindings_for
from tessera.tui.admin import scrip_ops as ab
from tessera.tui.admin.dry_run import Draft, DryRunPanel
from tessera.tui.admin.editor_fields import (
    EXPRESSION,
    GLOBAL,
    ChoiceChanged,
    ChoiceField,
    CodeArea,
    FindBar,
    jinja_language,
    scrip_form,
    template_form,
)
from tessera.tui.admin.revisions_screen import HistoryScreen
from tessera.tui.backend import Backend
from tessera.tui.footer import QuietFooter
from tessera.tui.screens import Choice, ConfirmScreen, PromptScreen

CHECK_DELAY = 0.3
NARROW = 120  # narrower than this: the dry-run goes below the template, shown with ctrl+t / F7


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
        self.spec: dict[str, Any] = dict(scrip["spec"]) if scrip else editing.new_scrip_spec(default_queue)
        info = template if template is not None else (scrip or {}).get("template")
        self.template_id: int | None = info["id"] if info else None
        self.template_updated: str | None = info["updated"] if info else None
        self.template_entry: dict[str, Any] = dict(info["entry"]) if info else {"name": "", "content": ""}
        if template_only and not info:
            self.template_entry = {"name": "", "content": "Subject: \n\n"}
        self.used_by: int = info.get("used_by", 0) if info else 0
        self.saved_state: tuple[Any, ...] | None = None
        self.problems: list[checks.Problem] = []
        self.saved_any = False
        self._check_timer: Timer | None = None
        self.refused_save = False
        self.narrow = False
        self.dry_shown = False

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        queue_choices = [Choice(GLOBAL, GLOBAL, "every queue"), *(Choice(q, q) for q in self.queues)]
        title = self._title()
        yield Static(safe.line(title, "bold"), id="editor-title")
        with Horizontal(id="editor-main"):
            with Vertical(id="editor-left"):
                if not self.template_only:
                    yield from scrip_form(self.spec, queue_choices)
                else:
                    yield from template_form(self.template_entry, queue_choices)
                area = CodeArea(self.template_entry.get("content", ""), kind="template", id="ed-template")
                yield area
                yield FindBar()
                yield Static("", id="ed-problems")
            if not self.template_only:
                yield DryRunPanel(self.backend, self.draft)
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
        if not self.template_only:
            self.query_one(DryRunPanel).show_hint(self.narrow)

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
        area = self.query_one("#ed-template", CodeArea)
        grammar = "Jinja highlighting" if jinja_language() else "no Jinja grammar installed: plain text"
        area.border_title = "Template (headers, a blank line, the body)"
        area.border_subtitle = grammar
        if not self.template_only:
            self.query_one("#ed-expression").border_title = "Expression"
            self._condition_shown()
            self._show_action_help()
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
            if self.template_entry.get("type") == "simple":  # kept: RT's Simple template stays one
                entry["type"] = "simple"
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
            if self.template_entry.get("type") == "simple":
                entry["type"] = "simple"
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
        if control is not None and control.id == "ed-template-name":
            self._template_renamed()
        self.schedule_check()

    @on(ChoiceChanged)
    def _choice(self, event: ChoiceChanged) -> None:
        if event.field.id == "ed-condition":
            self._condition_shown()
        elif event.field.id == "ed-action":
            self._show_action_help()
        self.schedule_check()

    def _condition_shown(self) -> None:
        expression = self.query_one("#ed-condition", ChoiceField).value == EXPRESSION
        self.query_one("#ed-expression").display = expression
        self.query_one("#ed-condition-arg").display = not expression

    def _show_action_help(self) -> None:
        name = self.query_one("#ed-action", ChoiceField).value
        found = next((a for a in checks.choices()["actions"] if a["name"] == name), None)
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
        info = await self.backend.ask(ab.template_for, name, queue)
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
            problems = checks.check_template_text(
                (template or {}).get("content") or "", kind=(template or {}).get("type") or "jinja"
            )
            if not (template or {}).get("name"):
                problems.insert(0, checks.Problem("name", "a template needs a name"))
        else:
            problems = checks.check_draft(spec, template)
        self.app.call_from_thread(self.show_problems, problems)

    def show_problems(self, problems: list[checks.Problem]) -> None:
        from textual.css.query import NoMatches

        try:
            self._show_problems(problems)
        except NoMatches:  # the check finished after the editor was closed: nothing to show it in
            return

    def _show_problems(self, problems: list[checks.Problem]) -> None:
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
        if not errors and not self.template_only:
            self.query_one(DryRunPanel).follow()

    # -- actions -----------------------------------------------------------------------------

    @work(group="editor-save", exclusive=True)
    async def action_save(self) -> None:
        spec, template = self.current_spec(), self.current_template()
        if self.template_only:
            problems = checks.check_template_text(
                (template or {}).get("content") or "", kind=(template or {}).get("type") or "jinja"
            )
        else:
            problems = checks.check_draft(spec, template)
        self.show_problems(problems)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            # Not a toast: the problem is shown at its line and in the list below the text.
            self.refused_save = True
            self.show_problems(problems)
            self.jump_to(errors[0])
            return
        if self.template_only:
            assert template is not None  # a template's editor always has one
            saved = await self.backend.ask(
                ab.save_template, self.template_id, template, self.template_updated
            )
            if saved is None:
                return
            self.load_template(saved)
        else:
            saved = await self.backend.ask(
                ab.save_scrip,
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
        if self.narrow and not self.dry_shown:
            self.show_dry(True)
        self.query_one(DryRunPanel).start()

    def draft(self) -> Draft:
        """The scrip as it stands in the form, for the dry-run."""
        return Draft(self.current_spec(), self.current_template(), self.scrip_id)

    def jump_to(self, problem: checks.Problem) -> None:
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
        self.query_one(FindBar).open(self._area())

    def action_find_next(self) -> None:
        if not self.query_one(FindBar).find_next(self.query_one("#ed-template", CodeArea)):
            self.action_find()

    def action_help(self) -> None:
        from tessera.tui.keymap import keymap_path
        from tessera.tui.screens import HelpScreen

        self.app.push_screen(HelpScreen(getattr(self.app, "keymap", {}), str(keymap_path()), template_help()))

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
        reverted = await self.app.push_screen_wait(HistoryScreen(self.backend, kind, object_id, name=name))
        if reverted:
            if self.template_only:
                fresh = await self.backend.ask(ab.template, object_id)
                if fresh is not None:
                    self.load_template(fresh)
                    self.query_one("#ed-template", CodeArea).load_text(fresh["entry"]["content"])
            else:
                fresh = await self.backend.ask(ab.scrip, object_id)
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
        find = self.query_one(FindBar)
        if find.display:
            (find.close() or self.query_one("#ed-template", CodeArea)).focus()
            return
        if self.dirty and not await self.app.push_screen_wait(
            ConfirmScreen(
                f"Discard your unsaved changes to this {'template' if self.template_only else 'scrip'}?"
                " (n keeps editing)"
            )
        ):
            return
        self.dismiss(self.saved_any)


def template_help() -> Text:
    """The names a template or an expression may use, with how to call each helper: the registry
    the check and the dry-run use (tessera.scrips.helpers), so the help cannot promise more."""
    from tessera.scrips.helpers import NAMES

    out = Text("Names in templates and expressions\n", style="bold underline")
    width = max(len(n.usage) for n in NAMES) + 3
    for name in NAMES:
        out.append(f"  {name.usage:<{width}}", style="bold")
        out.append(name.doc + "\n")
    out.append("  Jinja filters work too: {{ transaction.content|quote }}, {{ ticket.subject|upper }}\n")
    return out

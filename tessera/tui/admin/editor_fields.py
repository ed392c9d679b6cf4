"""The scrip editor's fields: a code area that marks the lines with problems (Jinja highlighting
for templates, Python's for expressions, when their grammars are installed), a one-line choice
that opens a picker, the find bar, and the form of a scrip or a template laid out in rows (the
editor reads the fields back by their ids)."""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.color import Color
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label, Static, TextArea
from textual.widgets.text_area import LanguageDoesNotExist, Selection

from tessera.scrips import checks
from tessera.tui import safe
from tessera.tui.screens import Choice, PickerScreen

EXPRESSION = "(expression)"  # the condition is a Jinja expression, not a named condition
GLOBAL = "(global)"  # for every queue


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
            except LanguageDoesNotExist:  # no tree-sitter-python: plain text
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


def form_row(label: str, *widgets: Any, id: str | None = None) -> Horizontal:
    """A labelled line of the editor's form."""
    return Horizontal(Label(label, classes="ad-label"), *widgets, classes="ad-row", id=id)


class FindBar(Input):
    """ctrl+f: text to find in a code area (ignoring case, from the cursor on, wrapping round);
    enter finds the next and stays here, F3 finds the next from the text; escape closes it."""

    def __init__(self) -> None:
        super().__init__(placeholder="find (enter: next, esc: close)", id="ed-find")
        self.needle = ""
        self.area: CodeArea | None = None  # where to look: the area focused when it opened

    def on_mount(self) -> None:
        self.display = False

    def open(self, area: CodeArea) -> None:
        self.area = area
        self.display = True
        self.value = self.needle
        self.focus()

    def close(self) -> CodeArea | None:
        """Hide it; the area it searched (for the focus to go back to)."""
        self.display = False
        return self.area

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()  # a search, not an edit of the draft
        self.needle = event.value

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.needle = event.value
        self.find_next(keep_focus=True)

    def find_next(self, default: CodeArea | None = None, *, keep_focus: bool = False) -> bool:
        """Select the next match (False: there is nothing to look for yet)."""
        needle = self.needle
        area = self.area or default
        if not needle or area is None:
            return False
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
            return True
        area.selection = Selection(found, (found[0], found[1] + len(needle)))
        area.scroll_cursor_visible()
        if not keep_focus:
            area.focus()
        return True


def scrip_form(spec: dict[str, Any], queue_choices: list[Choice]) -> ComposeResult:
    """A scrip's fields above its template: description, queue, stage, enabled, condition (or an
    expression), action and their arguments, and the template's name."""
    choices = checks.choices()
    condition = spec.get("condition") or {}
    yield form_row("Description", Input(spec.get("description", ""), id="ed-description"))
    yield form_row(
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
        *(Choice(c["name"], c["name"], f"{c['types']} · {c['help']}") for c in choices["conditions"]),
        Choice(EXPRESSION, EXPRESSION, "a sandboxed Jinja expression, e.g. ticket.priority > 50"),
    ]
    yield form_row(
        "Condition",
        ChoiceField(
            "Condition",
            EXPRESSION if condition.get("expression") else (condition.get("name") or "OnCreate"),
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
    yield form_row(
        "Action",
        ChoiceField(
            "Action",
            action.get("name") or "Notify",
            [Choice(a["name"], a["name"], a["help"]) for a in choices["actions"]],
            id="ed-action",
        ),
        Input(action.get("argument", ""), placeholder="argument, e.g. Requestor,Cc", id="ed-action-arg"),
    )
    yield Static("", id="ed-action-help")
    yield form_row(
        "Template",
        Input(spec.get("template") or "", placeholder="template name", id="ed-template-name"),
        Static("", id="ed-template-note"),
    )


def template_form(entry: dict[str, Any], queue_choices: list[Choice]) -> ComposeResult:
    """A template's name and queue, above its text."""
    yield form_row(
        "Name",
        Input(entry.get("name", ""), id="ed-template-name"),
        Label("Queue", classes="ad-label-inline"),
        ChoiceField("Template of", entry.get("queue") or GLOBAL, queue_choices, id="ed-template-queue"),
    )
    yield Static("", id="ed-template-note")

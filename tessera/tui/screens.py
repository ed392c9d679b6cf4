"""Modal dialogs: y/N confirmation, pickers, compose, field editing, a one-line prompt, and help."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from tessera.tui import drafts, remote, safe
from tessera.tui.actions import ACTIONS, SCOPES, ActionSpec, bindings_for, effective_keys


class ConfirmScreen(ModalScreen[bool]):
    """`y` confirms; `n`, `q`, Escape and Enter cancel (never a bare Enter for a destructive action)."""

    BINDINGS: ClassVar[list[BindingType]] = bindings_for("confirm.yes", "confirm.no")

    def __init__(self, question: str, detail: Text | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm"):
            yield Static(safe.text(self.question, "bold"), classes="question")
            if self.detail is not None:
                with VerticalScroll(id="confirm-detail"):
                    yield Static(self.detail)
            yield Label(Text("y = yes    n / esc = no", style="bold"), classes="hint")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    detail: str = ""


class PickerScreen(ModalScreen[str | None]):
    """Pick one of a list with j/k or arrows and Enter; type to narrow it; Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = bindings_for("dialog.cancel")

    def __init__(self, title: str, choices: list[Choice]) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="picker"):
            yield Label(safe.line(self.title_text, "bold"), classes="title")
            yield Input(placeholder="type to narrow", id="picker-filter", select_on_focus=False)
            yield OptionList(*self._options(""), id="picker-options")
            yield Label("enter = choose    esc = cancel", classes="hint")

    def _options(self, text: str) -> list[Option]:
        needle = text.strip().lower()
        out = []
        for choice in self.choices:
            if needle and needle not in choice.label.lower() and needle not in choice.value.lower():
                continue
            label = safe.line(choice.label)
            if choice.detail:
                label.append("  " + safe.clean_line(choice.detail), style="dim")
            out.append(Option(label, id=choice.value))
        return out

    def on_mount(self) -> None:
        self.query_one("#picker-options", OptionList).focus()

    @on(Input.Changed, "#picker-filter")
    def _narrow(self, event: Input.Changed) -> None:
        options = self.query_one("#picker-options", OptionList)
        options.clear_options()
        options.add_options(self._options(event.value))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Submitted, "#picker-filter")
    def _submit_filter(self) -> None:
        options = self.query_one("#picker-options", OptionList)
        if options.option_count:
            options.focus()
            options.highlighted = 0
            options.action_select()

    @on(OptionList.OptionSelected, "#picker-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_key(self, event) -> None:  # type: ignore[no-untyped-def]
        """Printable keys typed on the list go to the narrowing input; j/k move."""
        options = self.query_one("#picker-options", OptionList)
        if self.focused is options:
            if event.key == "j":
                options.action_cursor_down()
                event.stop()
            elif event.key == "k":
                options.action_cursor_up()
                event.stop()
            elif event.key == "q":
                event.stop()
                self.dismiss(None)
            elif event.is_printable and event.character and event.key not in ("enter", "space"):
                field = self.query_one("#picker-filter", Input)
                field.focus()
                field.insert_text_at_cursor(event.character)
                event.stop()

    def action_cancel(self) -> None:
        self.dismiss(None)


class PromptScreen(ModalScreen[str | None]):
    """One line of input: Enter accepts, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = bindings_for("dialog.cancel")

    def __init__(self, title: str, value: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="prompt"):
            yield Label(safe.line(self.title_text, "bold"), classes="title")
            yield Input(value=self.value, id="prompt-input")
            yield Label("enter = ok    esc = cancel", classes="hint")

    @on(Input.Submitted)
    def _ok(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ComposeScreen(ModalScreen[str | None]):
    """Write a reply or comment: recipients above a TextArea; the text is kept on disk as you type.

    ctrl+s / F2 goes to the review step (tessera.tui.review) before anything is sent; F4 edits in
    $EDITOR (the app suspends, resumes, then reviews); Escape offers keep editing, postpone (the
    draft stays) or discard (y/N).
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings_for("compose.send", "compose.editor", "compose.discard")

    def __init__(self, kind: str, targets: str, to: list[str], cc: list[str], draft: Path) -> None:
        super().__init__(classes="dialog-screen")
        self.kind = kind
        self.targets = targets
        self.to = to
        self.cc = cc
        self.draft = draft
        self._save_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="compose"):
            title = "Reply to" if self.kind == "reply" else "Comment on"
            yield Label(safe.line(f"{title} {self.targets}", "bold"), classes="title")
            if self.kind == "reply":
                yield Label(safe.line("To: " + (", ".join(self.to) or "(no requestors)")), id="compose-to")
                yield Label(safe.line("Cc: " + (", ".join(self.cc) or "-")), id="compose-cc")
            else:
                yield Label("Internal comment: not sent to requestors", id="compose-to")
            yield TextArea(drafts.load(self.draft) or "", id="compose-body", soft_wrap=True)
            editor = "" if remote.over_ssh() else "    F4 = $EDITOR"
            hint = f"ctrl+s / F2 = review and send{editor}    esc = postpone or discard"
            yield Label(hint, classes="hint")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        if area.text:
            area.move_cursor(area.document.end)
            self.notify(f"Draft restored from {self.draft}", markup=False, timeout=4)

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    @on(TextArea.Changed)
    def _changed(self) -> None:
        if self._save_timer is not None:
            self._save_timer.stop()
        self._save_timer = self.set_timer(0.3, self.save_draft)

    def save_draft(self) -> None:
        try:
            if self.text.strip():
                drafts.save(self.draft, self.text)
            else:
                drafts.remove(self.draft)
        except OSError as exc:
            self.notify(
                f"Cannot save the draft to {self.draft}: {exc.strerror}", severity="error", markup=False
            )

    def action_send(self) -> None:
        if not self.text.strip():
            self.notify("Nothing to send: the message is empty", severity="warning", markup=False)
            return
        self.save_draft()  # removed by the caller once the message is recorded
        self.dismiss(self.text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Over SSH there is no external editor: its key leaves the footer and does nothing."""
        return not (action == "editor" and remote.over_ssh())

    def action_editor(self) -> None:
        self.save_draft()
        text = self.text
        # End on a newline, as editors expect: what the editor appends then starts a line of its own.
        drafts.save(self.draft, text if not text or text.endswith("\n") else text + "\n")
        if not remote.edit_in_editor(self, self.draft):
            return
        self.query_one(TextArea).text = drafts.load(self.draft) or ""
        if self.text.strip():
            self.action_send()  # straight to the review, as mutt and aerc do after the editor

    @work(group="compose")
    async def action_discard(self) -> None:
        if not self.text.strip():
            drafts.remove(self.draft)
            self.dismiss(None)
            return
        choices = [
            Choice("edit", "Keep editing"),
            Choice("postpone", "Postpone", "keep the draft; it comes back next time"),
            Choice("discard", "Discard", "asks y/N"),
        ]
        choice = await self.app.push_screen_wait(PickerScreen("Leave this message?", choices))
        if choice == "postpone":
            self.save_draft()
            self.notify(f"Draft kept in {self.draft}", markup=False, timeout=4)
            self.dismiss(None)
        elif choice == "discard" and await self.app.push_screen_wait(ConfirmScreen("Discard this message?")):
            if self._save_timer is not None:
                self._save_timer.stop()
            drafts.remove(self.draft)
            self.dismiss(None)


EDITABLE = (
    ("subject", "Subject"),
    ("priority", "Priority"),
    ("final_priority", "Final priority"),
    ("due", "Due"),
    ("starts", "Starts"),
    ("time_worked", "Time worked (min)"),
    ("time_estimated", "Time estimated (min)"),
    ("time_left", "Time left (min)"),
)


class EditScreen(ModalScreen[dict[str, str] | None]):
    """A form of the ticket's fields and custom fields; ctrl+s saves only what changed.

    `submit` saves and returns the refusal, if any: a refused value keeps the form open with the
    reason under it and the cursor in that field, so nothing typed is lost.
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings_for("edit.save", "dialog.cancel")

    def __init__(
        self, ticket: dict[str, object], submit: Callable[[dict[str, str]], Awaitable[str | None]]
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.ticket = ticket
        self.submit = submit
        self.original: dict[str, str] = {}
        for key, _label in EDITABLE:
            value = ticket.get(key)
            self.original[key] = "" if value is None else str(value)
        for name, value in dict(ticket.get("custom_fields") or {}).items():  # type: ignore[call-overload]
            joined = ",".join(value) if isinstance(value, list) else ("" if value is None else str(value))
            self.original[f"cf.{name}"] = joined
        self.labels = {key: dict(EDITABLE).get(key) or key[3:] for key in self.original}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="edit"):
            yield Label(safe.line(f"Edit {self.ticket['display_id']}", "bold"), classes="title")
            with VerticalScroll(id="edit-fields"):
                for index, (key, value) in enumerate(self.original.items()):
                    with Horizontal(classes="field"):
                        yield Label(safe.line(self.labels[key]), classes="field-label")
                        # no select-on-focus: typing never silently replaces a whole value
                        yield Input(
                            value=safe.clean_line(value), id=f"field-{index}", name=key, select_on_focus=False
                        )
            yield Static("", id="edit-error")
            yield Label("tab = next field    ctrl+s / F2 = save    esc = cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#edit-error").display = False
        first = self.query(Input).first()
        first.focus()
        first.cursor_position = len(first.value)

    def changes(self) -> dict[str, str]:
        out = {}
        for field in self.query(Input):
            key = field.name or ""
            if key in self.original and field.value != safe.clean_line(self.original[key]):
                out[key] = field.value
        return out

    @work(exclusive=True, group="edit")
    async def action_save(self) -> None:
        changes = self.changes()
        if not changes:
            self.dismiss({})
            return
        problem = await self.submit(changes)
        if problem is None:
            self.dismiss(changes)
            return
        self.show_problem(problem)

    def show_problem(self, problem: str) -> None:
        """The refusal under the form, in the words of the form (Final priority, not final_priority)."""
        shown = problem
        for field in self.query(Input):
            key = field.name or ""
            if problem.lower().startswith(key.lower() + ":"):
                shown = self.labels[key] + problem[len(key) :]
                field.focus()
                break
        error = self.query_one("#edit-error", Static)
        error.update(safe.text("✗ " + shown, "bold"))
        error.display = True

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every action of the registry with its current keys, grouped by where it works."""

    BINDINGS: ClassVar[list[BindingType]] = bindings_for("help.close")

    def __init__(self, keymap: dict[str, str], config_path: str) -> None:
        super().__init__(classes="dialog-screen")
        self.keymap = keymap
        self.config_path = config_path

    def compose(self) -> ComposeResult:
        body = Text()
        for scope, title in SCOPES.items():
            rows = self.rows(scope)
            if not rows:
                continue
            width = max(len(keys) for keys, _spec in rows) + 3
            body.append(f"{title}\n", style="bold underline")
            for keys, spec in rows:
                body.append(f"  {keys:<{width}}", style="bold")
                folded = keys.startswith("1-") and spec.description.endswith(" 1")
                body.append(spec.description[:-1] + keys if folded else spec.description)
                if spec.destructive:
                    body.append("  (asks y/N)", style="italic")
                body.append("\n")
            body.append("\n")
        body.append("In pickers: type to narrow, j/k or arrows to move, enter chooses.\n")
        body.append(f'Key map file: {safe.clean_line(self.config_path)} (action id = "keys")\n')
        with Vertical(classes="dialog", id="help"):
            yield Label(Text("Tessera keys", style="bold"), classes="title")
            with VerticalScroll(id="help-body"):
                yield Static(body)
            yield Label("esc / q = close", classes="hint")

    def rows(self, scope: str) -> list[tuple[str, ActionSpec]]:
        """(keys, action) lines; numbered actions on their own digits (views 1-9) fold into one."""
        rows: list[tuple[str, ActionSpec]] = []
        for spec in ACTIONS:
            if spec.scope != scope:
                continue
            keys = effective_keys(spec, self.keymap)
            numbered = re.fullmatch(r"(.+)\.(\d)", spec.id)
            if numbered and keys == [numbered[2]]:
                if numbered[2] != "1":
                    continue  # folded into the line of number 1
                last = max(
                    s.id[-1] for s in ACTIONS if s.id.startswith(numbered[1] + ".") and s.id[-1].isdigit()
                )
                rows.append((f"1-{last}", spec))
                continue
            rows.append((", ".join(keys), spec))
        return rows

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)


class SearchScreen(ModalScreen[str | None]):
    """A TicketSQL query with completion: fields, operators and values appear as you type.

    Tab takes the highlighted suggestion; Enter runs the query once it compiles (an error stays on
    screen, pointing at its column, and nothing typed is lost); Escape leaves the view unchanged.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings_for("dialog.cancel"),
        Binding("tab", "accept", "Complete", show=True, priority=True),
        Binding("down", "suggestion(1)", show=False, priority=True),
        Binding("up", "suggestion(-1)", show=False, priority=True),
    ]

    def __init__(
        self,
        value: str,
        complete: Callable[[str], list[str]],
        check: Callable[[str], str | None],
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.value = value
        self.complete = complete
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="search"):
            yield Label(safe.line("Search (TicketSQL, every queue you may see)", "bold"), classes="title")
            yield Input(
                value=self.value, id="search-input", placeholder="Status = '__Active__' AND Owner = 'Nobody'"
            )
            yield Static("", id="search-error")
            yield OptionList(id="search-suggestions")
            yield Label(
                "tab = complete    enter = search    empty = back to the queue    esc = cancel",
                classes="hint",
            )

    def on_mount(self) -> None:
        self.query_one("#search-input", Input).cursor_position = len(self.value)
        self.suggest(self.value)

    @on(Input.Changed, "#search-input")
    def _changed(self, event: Input.Changed) -> None:
        self.query_one("#search-error", Static).update("")
        self.suggest(event.value)

    @work(exclusive=True, group="suggest", thread=True)
    def suggest(self, text: str) -> None:
        try:
            found = self.complete(text)
        except Exception:  # a lost database: no suggestions, the query still runs later
            found = []
        self.app.call_from_thread(self._show, found)

    def _show(self, found: list[str]) -> None:
        options = self.query_one("#search-suggestions", OptionList)
        options.clear_options()
        options.add_options([Option(safe.line(s), id=s) for s in found])
        if found:
            options.highlighted = 0

    def action_suggestion(self, step: int) -> None:
        options = self.query_one("#search-suggestions", OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    def action_accept(self) -> None:
        options = self.query_one("#search-suggestions", OptionList)
        if options.highlighted is None or not options.option_count:
            return
        chosen = options.get_option_at_index(options.highlighted).id or ""
        # Imported here: it brings SQLAlchemy, which the first screen is painted without.
        from tessera.core.search.completion import partial_start

        field = self.query_one("#search-input", Input)
        text = field.value
        # TicketSQL's word, not the last run of non-spaces: `'last we` and `CF.{Asset T` hold spaces.
        field.value = f"{text[: partial_start(text)]}{chosen} "
        field.cursor_position = len(field.value)

    @on(Input.Submitted, "#search-input")
    def _submit(self, event: Input.Submitted) -> None:
        self.run_check(event.value)

    @work(exclusive=True, group="check", thread=True)
    def run_check(self, text: str) -> None:
        try:
            problem = self.check(text) if text.strip() else None
        except Exception as exc:
            problem = str(exc)
        self.app.call_from_thread(self._checked, text, problem)

    def _checked(self, text: str, problem: str | None) -> None:
        if problem:
            self.query_one("#search-error", Static).update(safe.line(problem, "bold"))
            return
        self.dismiss(text.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)

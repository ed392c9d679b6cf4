"""Modal dialogs: y/N confirmation, pickers, compose, field editing, a one-line prompt, help, and
the new-ticket form (the search bar and the views picker: tessera.tui.search_screens)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from tessera.tui import drafts, remote, safe, ticket_ops
from tessera.tui.actions import ACTIONS, SCOPES, ActionSpec, bindings_for, effective_keys

if TYPE_CHECKING:
    pass


def type_into(screen: ModalScreen[Any], field: Input, event: events.Key) -> None:
    """A key typed before the dialog's field has the focus (right after it opened: a fast typist,
    or keys sent in a burst) goes into the field instead of being lost."""
    if screen.focused is not None:
        return
    if event.is_printable and event.character:
        field.focus()
        if field.selection.is_empty:
            field.insert_text_at_cursor(event.character)
        else:  # what the dialog put there selected (the search shown): typing replaces it
            field.replace(event.character, *field.selection)
        event.stop()
    elif event.key == "enter":
        field.focus()
        screen.call_later(field.action_submit)
        event.stop()


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

    def __init__(self, title: str, choices: list[Choice], detail: str = "") -> None:
        """`detail`: more than the title's one line says (wrapped below it)."""
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.choices = choices
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="picker"):
            yield Label(safe.line(self.title_text, "bold"), classes="title")
            if self.detail:
                yield Static(safe.text(self.detail), id="picker-detail")
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

    def on_key(self, event: events.Key) -> None:
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

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    def on_key(self, event: events.Key) -> None:
        type_into(self, self.query_one("#prompt-input", Input), event)

    @on(Input.Submitted)
    def _ok(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


SMALL = (60, 24)  # columns, rows: below either, the compose dialog drops its frame and spacing


class ComposeScreen(ModalScreen[str | None]):
    """Write a reply or comment: recipients above a TextArea; the text is kept on disk as you type.

    ctrl+s / F2 goes to the review step (tessera.tui.review) before anything is sent; F4 edits in
    $EDITOR (the app suspends, resumes, then reviews); Escape offers keep editing, postpone (the
    draft stays) or discard (y/N).
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings_for("compose.send", "compose.editor", "compose.discard")

    def __init__(
        self,
        kind: str,
        targets: str,
        to: list[str],
        cc: list[str],
        draft: Path,
        start: str = "",
        once: tuple[list[str], list[str]] = ([], []),
        optional: bool = False,
    ) -> None:
        """`start`: the text a new message begins with (a reply's quote); a draft wins over it.
        `once`: the one-time Cc and Bcc given before (back from the review to edit again).
        `optional`: the message of a lifecycle action, which may go without one (as on RT's
        update page): sending it empty runs the action alone."""
        super().__init__(classes="dialog-screen")
        self.optional = optional
        self.once_given = once
        self.kind = kind
        self.targets = targets
        self.to = to
        self.cc = cc
        self.draft = draft
        self.start = start
        self._save_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="compose"):
            title = {"reply": "Reply to", "forward": "Forward"}.get(self.kind, "Comment on")
            yield Label(safe.line(f"{title} {self.targets}", "bold"), classes="title")
            if self.kind == "forward":
                yield Label(safe.line("To: " + ", ".join(self.to)), id="compose-to")
                yield Label("Your note, above the ticket's conversation (may be empty)", id="compose-cc")
            elif self.kind == "reply":
                yield Label(safe.line("To: " + (", ".join(self.to) or "(no requestors)")), id="compose-to")
                yield Label(safe.line("Cc: " + (", ".join(self.cc) or "-")), id="compose-cc")
            else:
                yield Label("Internal comment: not sent to requestors", id="compose-to")
            if self.kind in ("reply", "comment"):  # RT's one-time Cc and Bcc (agents only)
                with Horizontal(id="compose-once"):
                    once_cc, once_bcc = (", ".join(a) for a in self.once_given)
                    yield Input(once_cc, placeholder="Cc, once", id="compose-once-cc", classes="once")
                    yield Input(once_bcc, placeholder="Bcc, once", id="compose-once-bcc", classes="once")
            yield TextArea(drafts.load(self.draft) or self.start, id="compose-body", soft_wrap=True)
            editor = "" if remote.over_ssh() else "    F4 = $EDITOR"
            hint = f"ctrl+s / F2 = review and send{editor}    esc = postpone or discard"
            if self.optional:
                hint = f"ctrl+s / F2 = go on (empty: no message){editor}    esc = cancel"
            yield Label(hint, classes="hint")

    def on_mount(self) -> None:
        self._fit(self.app.size.width, self.app.size.height)
        area = self.query_one(TextArea)
        area.focus()
        if area.text:
            area.move_cursor(area.document.end)  # below the quote, as mutt and aerc put it
            if not self.untouched:
                # Over SSH the file is the server's, of no use to the user: its path is not shown.
                where = "" if remote.over_ssh() else f" from {self.draft}"
                self.notify(f"Draft restored{where}", markup=False, timeout=4)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        """A small terminal (under SMALL rows or columns): the dialog fills it without its frame
        and spacing, and the Cc/Bcc fields take one line, so the text box keeps its lines."""
        self.set_class(height < SMALL[1] or width < SMALL[0], "-small")

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    @property
    def once(self) -> tuple[list[str], list[str]]:
        """The one-time Cc and Bcc typed above the message (addresses, comma separated)."""
        if self.kind not in ("reply", "comment"):
            return [], []
        return (
            ticket_ops.split_addresses(self.query_one("#compose-once-cc", Input).value),
            ticket_ops.split_addresses(self.query_one("#compose-once-bcc", Input).value),
        )

    @property
    def untouched(self) -> bool:
        """Nothing of yours in it: empty, or only the quote it started with."""
        return not self.text.strip() or self.text.strip() == self.start.strip()

    @on(TextArea.Changed)
    def _changed(self) -> None:
        if self._save_timer is not None:
            self._save_timer.stop()
        self._save_timer = self.set_timer(0.3, self.save_draft)

    def save_draft(self) -> None:
        try:
            if not self.untouched:
                drafts.save(self.draft, self.text)
            else:
                drafts.remove(self.draft)
        except OSError as exc:
            self.notify(
                f"Cannot save the draft to {self.draft}: {exc.strerror}", severity="error", markup=False
            )

    def action_send(self) -> None:
        if self.untouched and self.kind != "forward" and not self.optional:  # a forward may go without a note
            why = "the message is only the quote" if self.text.strip() else "the message is empty"
            self.notify(f"Nothing to send: {why}", severity="warning", markup=False)
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
        if self.untouched:
            drafts.remove(self.draft)  # only the quote came back: nothing of yours to keep
        else:
            self.action_send()  # straight to the review, as mutt and aerc do after the editor

    @work(group="compose")
    async def action_discard(self) -> None:
        if self.untouched:
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
    # The people, comma separated; a group as group:NAME (Cc, AdminCc). Saved as watcher changes.
    ("requestors", "Requestors"),
    ("cc", "Cc"),
    ("admincc", "AdminCc"),
    ("squelched", "Squelched"),  # addresses no scrip mails about the ticket (RT's SquelchMailTo)
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
            if isinstance(value, list):
                self.original[key] = ", ".join(str(v) for v in value)
            else:
                self.original[key] = "" if value is None else str(value)
        fields = ticket.get("custom_fields")
        for name, value in fields.items() if isinstance(fields, dict) else ():
            joined = ",".join(value) if isinstance(value, list) else ("" if value is None else str(value))
            self.original[f"cf.{name}"] = joined
        self.labels = {key: dict(EDITABLE).get(key) or key[3:] for key in self.original}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="edit"):
            yield Label(safe.line(f"Edit {self.ticket['display_id']}", "bold"), classes="title")
            # Not focusable itself: tab and shift+tab go from field to field, never to the
            # scroll container, where typed keys would land nowhere (focusing a field scrolls to it).
            with VerticalScroll(id="edit-fields", can_focus=False):
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

    BINDINGS: ClassVar[list[BindingType]] = bindings_for(
        "help.close", "help.down", "help.up", "help.top", "help.bottom"
    )

    def __init__(self, keymap: dict[str, str], config_path: str, before: Text | None = None) -> None:
        """`before`: what the screen that opened the help shows first (the editor: the names a
        template may use)."""
        super().__init__(classes="dialog-screen")
        self.keymap = keymap
        self.config_path = config_path
        self.before = before

    def compose(self) -> ComposeResult:
        body = Text()
        if self.before is not None:
            body.append_text(self.before)
            body.append("\n")
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
            rows.append((", ".join(keys) or "palette", spec))
        return rows

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_scroll_help(self, where: str) -> None:
        body = self.query_one("#help-body", VerticalScroll)
        {
            "down": body.scroll_down,
            "up": body.scroll_up,
            "top": body.scroll_home,
            "bottom": body.scroll_end,
        }[where](animate=False)

    def action_close(self) -> None:
        self.dismiss(None)


class CreateScreen(ModalScreen[ticket_ops.NewTicket | None]):
    """A new ticket: requestors, subject, the queue's custom fields (a required one marked *), and
    the first message. ctrl+s / F2 goes to the review (the scrips' dry-run) before anything is
    made; esc leaves (y/N once something is typed). `start`: the values to show again."""

    BINDINGS: ClassVar[list[BindingType]] = bindings_for("compose.send", "dialog.cancel")

    def __init__(
        self, queue: str, fields: list[ticket_ops.FormField], start: ticket_ops.NewTicket | None = None
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.queue = queue
        self.fields = fields
        self.start = start

    def compose(self) -> ComposeResult:
        start = self.start
        values = start.custom_fields if start else {}
        with Vertical(classes="dialog", id="create"):
            yield Label(safe.line(f"New ticket in {self.queue}", "bold"), classes="title")
            with VerticalScroll(id="create-fields", can_focus=False):  # as the edit form's
                people = ", ".join(start.requestors) if start else ""
                rows = [
                    ("Requestors", "create-requestors", people, "name@example.com, …"),
                    ("Subject", "create-subject", start.subject if start else "", ""),
                ]
                for index, cf in enumerate(self.fields):
                    hint = " / ".join(cf.values[:6]) if cf.values else safe.clean_line(cf.description)
                    label = f"{cf.name}{' *' if cf.required else ''}"
                    rows.append((label, f"create-cf-{index}", values.get(cf.name, ""), hint))
                for label, widget_id, value, placeholder in rows:
                    with Horizontal(classes="field"):
                        yield Label(safe.line(label), classes="field-label")
                        yield Input(
                            value=safe.clean_line(value),
                            placeholder=safe.clean_line(placeholder),
                            id=widget_id,
                            select_on_focus=False,
                        )
            yield TextArea(start.body if start else "", id="create-body", soft_wrap=True)
            yield Static("", id="create-error")
            yield Label("tab = next field    ctrl+s / F2 = review and create    esc = cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#create-error").display = False
        self.query_one("#create-requestors", Input).focus()

    def collected(self) -> ticket_ops.NewTicket:
        def value(widget_id: str) -> str:
            return self.query_one(f"#{widget_id}", Input).value

        requestors = ticket_ops.split_addresses(value("create-requestors"))
        return ticket_ops.NewTicket(
            queue=self.queue,
            requestors=requestors,
            subject=value("create-subject").strip(),
            body=self.query_one("#create-body", TextArea).text,
            custom_fields={cf.name: value(f"create-cf-{i}").strip() for i, cf in enumerate(self.fields)},
        )

    def action_send(self) -> None:
        new = self.collected()
        missing = [cf.name for cf in self.fields if cf.required and not new.custom_fields.get(cf.name)]
        if missing:
            self.show_problem(f"Required in {self.queue}: {', '.join(missing)}")
            field = self.fields.index(next(cf for cf in self.fields if cf.name == missing[0]))
            self.query_one(f"#create-cf-{field}", Input).focus()
            return
        if not new.subject:
            self.show_problem("A new ticket needs a subject")
            self.query_one("#create-subject", Input).focus()
            return
        self.dismiss(new)

    def show_problem(self, problem: str) -> None:
        error = self.query_one("#create-error", Static)
        error.update(safe.text("✗ " + problem, "bold"))
        error.display = True

    @work(group="compose")
    async def action_cancel(self) -> None:
        new = self.collected()
        typed = new.requestors or new.subject or new.body.strip() or any(new.custom_fields.values())
        if not typed or await self.app.push_screen_wait(ConfirmScreen("Discard this new ticket?")):
            self.dismiss(None)

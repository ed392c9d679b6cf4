"""The search bar (F): TicketSQL with completion and a check as you type, a ticket number opens
it; and the saved views' picker (V), which renames (F2) and deletes them."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.input import Selection
from textual.widgets.option_list import Option

from tessera.core.errors import TesseraError
from tessera.core.ids import ticket_number
from tessera.tui import safe, ticket_ops
from tessera.tui.actions import bindings_for
from tessera.tui.keyhold import hold_keys, release_keys
from tessera.tui.screens import Choice, PickerScreen, type_into

if TYPE_CHECKING:
    from tessera.core.saved_views import View
    from tessera.tui.backend import Backend


def common_prefix(words: list[str]) -> int:
    """How many leading characters all `words` share."""
    first = min(words, key=len) if words else ""
    for index, char in enumerate(first):
        if any(word[index] != char for word in words):
            return index
    return len(first)


class SearchInput(Input):
    """The bar's field: enter holds the keys typed after it until the query has been checked and
    run, or the ticket it names shows (they act there, never on the row the list had)."""

    async def action_submit(self) -> None:
        hold_keys(self.app)
        await super().action_submit()


class SearchScreen(ModalScreen[str | None]):
    """A TicketSQL query with completion: fields, operators and values appear as you type.

    Tab takes the highlighted suggestion; Enter runs the query once it compiles (an error stays on
    screen, pointing at its column, and nothing typed is lost), or opens the ticket when what was
    typed is a ticket number (`42`, `#42`, `TKT-0042`); Escape leaves the view unchanged.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings_for("dialog.cancel"),
        Binding("tab", "accept", "Complete", show=True, priority=True),
        Binding("down", "suggestion(1)", show=False, priority=True),
        Binding("up", "suggestion(-1)", show=False, priority=True),
    ]

    def __init__(self, value: str, backend: Backend) -> None:
        super().__init__(classes="dialog-screen")
        self.value = value
        self.backend = backend
        # Tab cycling through candidates: (the text before the word, the candidates, which one).
        self._cycle: tuple[str, list[str], int] | None = None
        self._placed: str | None = None  # the value tab put in the field (not typed)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="search"):
            yield Label(safe.line("Search (TicketSQL, every queue you may see)", "bold"), classes="title")
            # Not selected on focus: keys typed before the bar had the focus are in it, and typing
            # goes on after them (or after the search shown), never replacing them.
            yield SearchInput(
                value=self.value,
                id="search-input",
                placeholder="Status = '__Active__' AND Owner = 'Nobody'",
                select_on_focus=False,
            )
            yield Static("", id="search-error")
            yield OptionList(id="search-suggestions")
            yield Label(
                "tab = complete    enter = search (a number opens that ticket)    esc = cancel",
                classes="hint",
            )

    def on_mount(self) -> None:
        """The search shown is in the bar, selected: typing (`42`, a new query) replaces it, as in
        RT's quick search; an arrow key or End keeps it to edit."""
        field = self.query_one("#search-input", Input)
        field.focus()
        field.selection = Selection(0, len(self.value))

    def on_key(self, event: events.Key) -> None:
        type_into(self, self.query_one("#search-input", Input), event)
        self.suggest(self.value)

    @on(Input.Changed, "#search-input")
    def _changed(self, event: Input.Changed) -> None:
        if event.value != self._placed:
            self._cycle = None  # typed: the next tab completes what is typed now
        self.query_one("#search-error", Static).update("")
        if self._cycle is not None:
            # Cycling: the list keeps the candidates, the one in the bar highlighted (suggesting
            # for "Requestor.Name " showed the operators while tab went on through field names).
            self.workers.cancel_group(self, "suggest")
            self.query_one("#search-suggestions", OptionList).highlighted = self._cycle[2]
            return
        self.suggest(event.value)

    @work(exclusive=True, group="suggest")
    async def suggest(self, text: str) -> None:
        try:
            found = await self.backend.call(ticket_ops.complete_query, text)
        except Exception:  # never let completion break typing: no suggestions, the query still runs
            found = []
        try:
            options = self.query_one("#search-suggestions", OptionList)
        except NoMatches:  # the bar closed (enter ran the query) while the suggestions were read
            return
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
        """Tab, as a shell does: one candidate is taken whole; several are first completed as far
        as they agree; then each tab puts the next candidate in (typing ends the round)."""
        if self._cycle is not None:
            before, candidates, index = self._cycle
            index = (index + 1) % len(candidates)
            self._cycle = (before, candidates, index)
            self._place(f"{before}{candidates[index]} ")
            return
        options = self.query_one("#search-suggestions", OptionList)
        if not options.option_count:
            return
        candidates = [options.get_option_at_index(i).id or "" for i in range(options.option_count)]
        # Imported here: it brings SQLAlchemy, which the first screen is painted without.
        from tessera.core.search.completion import partial_start

        text = self.query_one("#search-input", Input).value
        # TicketSQL's word, not the last run of non-spaces: `'last we` and `CF.{Asset T` hold spaces.
        start = partial_start(text)
        before, typed = text[:start], text[start:]
        if len(candidates) == 1:
            self._place(f"{before}{candidates[0]} ")
            return
        shared = common_prefix([c.lower() for c in candidates])
        if shared > len(typed) and candidates[0][:shared].lower().startswith(typed.lower()):
            self._place(before + candidates[0][:shared])
            return
        index = options.highlighted or 0
        self._cycle = (before, candidates, index)
        self._place(f"{before}{candidates[index]} ")

    def _place(self, value: str) -> None:
        field = self.query_one("#search-input", Input)
        self._placed = value
        field.value = value
        field.cursor_position = len(value)

    @on(Input.Submitted, "#search-input")
    def _submit(self, event: Input.Submitted) -> None:
        if ticket_number(event.value) is not None:
            self.dismiss(event.value.strip())  # a ticket number: the caller opens that ticket
            return
        self.run_check(event.value)

    @work(exclusive=True, group="check")
    async def run_check(self, text: str) -> None:
        try:
            problem = await self.backend.call(ticket_ops.check_query, text) if text.strip() else None
        except TesseraError as exc:
            problem = exc.message
        if problem:
            self.query_one("#search-error", Static).update(safe.line(problem, "bold"))
            release_keys(self.app)  # what is typed next goes on into the bar, to mend the query
            return
        self.dismiss(text.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


SAVE_VIEW = "save"


class ViewsScreen(PickerScreen):
    """V: your saved views, then the shared ones, as a picker (type to narrow, enter shows one),
    its last line "save this list as a view"; F2 renames the highlighted view, delete deletes it
    (y/N). Dismissed with "show:N", "rename:N", "delete:N" (N: the view's index) or SAVE_VIEW."""

    BINDINGS: ClassVar[list[BindingType]] = bindings_for("views.rename", "views.delete", "dialog.cancel")

    def __init__(self, views: list[View]) -> None:
        choices = [
            Choice(
                f"show:{index}",
                f"{index + 1}  {view.name}" if index < 9 else f"   {view.name}",
                ("shared: " if view.shared else "mine: ") + view.query,
            )
            for index, view in enumerate(views)
        ]
        choices.append(Choice(SAVE_VIEW, "+ Save this list as a view…", "W from the list"))
        super().__init__("Saved views    F2 = rename    delete = delete", choices)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#picker-options", OptionList).highlighted = 0

    def _chosen_view(self) -> int | None:
        options = self.query_one("#picker-options", OptionList)
        if options.highlighted is None or not options.option_count:
            return None
        value = options.get_option_at_index(options.highlighted).id or ""
        return int(value[5:]) if value.startswith("show:") else None

    def action_choose(self, what: str) -> None:
        index = self._chosen_view()
        if index is not None:
            self.dismiss(f"{what}:{index}")

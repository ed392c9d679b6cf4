"""The two lines above the panes: the top bar (who you are, what the queue pane shows and how) and
the lost-database banner (shown while the database is unreachable, asking for a retry meanwhile)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.reactive import var
from textual.timer import Timer
from textual.widgets import Static

from tessera.tui import safe
from tessera.tui.queue_view import BREACHING_HOURS, SORT_LABELS

RETRY_SECONDS = 5


@dataclass(frozen=True)
class BarState:
    """What the top bar shows; the screen sets it from the queue pane's `Changed`."""

    user: str | None = None
    search: str = ""
    queue: str | None = None  # the queue shown (a search shows its query instead)
    sort: str = "updated"
    descending: bool = True
    filter: str = ""
    marked: int = 0
    breaching: bool = False  # the "breaching soon" view (D)
    view_name: str = ""  # the saved view whose search shows


class TopBar(Static):
    state: var[BarState] = var(BarState, init=False)

    def on_mount(self) -> None:
        self.update(self.render_state(self.state))

    def watch_state(self, state: BarState) -> None:
        self.update(self.render_state(state))

    def redraw(self) -> None:
        self.update(self.render_state(self.state))

    @staticmethod
    def render_state(state: BarState) -> Text:
        bar = Text()
        bar.append(" Tessera ", style="bold reverse")
        if state.user:
            bar.append("  user ")
            bar.append(safe.clean_line(state.user), style="bold")
        if state.breaching:
            bar.append("  view ")
            bar.append(f"breaching soon (due ≤ {BREACHING_HOURS} business h, or overdue)", style="bold")
        elif state.search and state.view_name:
            bar.append("  view ")
            bar.append(safe.clean_line(state.view_name), style="bold")
        elif state.search:
            bar.append("  search ")
            bar.append(safe.clean_line(state.search), style="bold")
        elif state.queue:
            bar.append("  queue ")
            bar.append(safe.clean_line(state.queue), style="bold")
        arrow = "↓" if state.descending else "↑"
        bar.append(f"  sort {SORT_LABELS[state.sort].lower()} {arrow}")
        if state.filter:
            bar.append("  filter ")
            bar.append(safe.clean_line(state.filter), style="bold")
        if state.marked:
            bar.append(f"  {state.marked} marked", style="bold")
        return bar


class OfflineBanner(Static):
    """Shown while the database is unreachable (`problem`); meanwhile it posts `Retry` every few
    seconds, and says so when the database answers again."""

    class Retry(Message):
        """Time to try the database again."""

    problem: var[str | None] = var(None, init=False)

    def __init__(self, *, id: str | None = None, retry_seconds: float = RETRY_SECONDS) -> None:
        super().__init__("", id=id)
        self.retry_seconds = retry_seconds
        self._retry: Timer | None = None

    def on_mount(self) -> None:
        self.display = self.problem is not None

    def watch_problem(self, problem: str | None) -> None:
        if problem is None:
            if self.display:
                self.display = False
                if self._retry is not None:
                    self._retry.stop()
                    self._retry = None
                self.notify("Database reachable again", markup=False, timeout=3)
            return
        every = f"{self.retry_seconds:g} s"
        text = Text(
            f" Database unreachable, retrying every {every}; nothing you typed is lost: ", style="bold"
        )
        text.append(safe.clean_line(problem))
        self.update(text)
        self.display = True
        if self._retry is None:
            self._retry = self.set_interval(self.retry_seconds, lambda: self.post_message(self.Retry()))

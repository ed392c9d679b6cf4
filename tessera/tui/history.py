"""The history pane's text: transactions oldest first, filtered on demand, with the scrip trace.

`f` cycles what is shown (everything → correspondence only → correspondence and comments), as k9s
detail toggles do; `i` shows under each transaction the scrips that considered it and what came of
each (fired, condition false, failed and why): RT hides this in its logs, Tessera keeps it one key away.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from tessera.tui import safe

EVERYTHING, MESSAGES, CONVERSATION = "everything", "messages", "conversation"
PAGE = 25  # transactions laid out at first, and added each time you scroll to the top
# The order `f` cycles through, and how each is named in the pane's title.
MODES = {EVERYTHING: "", MESSAGES: "correspondence only", CONVERSATION: "correspondence and comments"}
MESSAGE_TYPES = {"Create", "Correspond"}
KIND_TITLES = {
    "Create": "Ticket created",
    "Correspond": "Correspondence",
    "Comment": "Comment",
}
OUTCOME_STYLES = {"committed": "bold", "condition false": "dim", "prepare failed": "bold red"}


def next_mode(mode: str) -> str:
    modes = list(MODES)
    return modes[(modes.index(mode) + 1) % len(modes)] if mode in MODES else EVERYTHING


def shown(events: list[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    if mode == MESSAGES:
        return [e for e in events if e["type"] in MESSAGE_TYPES]
    if mode == CONVERSATION:
        return [e for e in events if e["type"] in MESSAGE_TYPES or e["type"] == "Comment"]
    return events


def hidden(events: list[dict[str, Any]], mode: str, newest: int) -> int:
    """How many transactions the window leaves out (those before the newest `newest`)."""
    return max(0, len(shown(events, mode)) - newest)


def title(events: list[dict[str, Any]], mode: str, trace: bool) -> str:
    visible = len(shown(events, mode))
    count = f"{visible} of {len(events)}" if visible != len(events) else str(len(events))
    parts = [f"History ({count})"]
    if MODES.get(mode):
        parts.append(MODES[mode])
    if trace:
        parts.append("scrip trace")
    return " · ".join(parts)


def when(value: str | datetime | None) -> str:
    if value is None:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def event_title(event: dict[str, Any]) -> str:
    kind = event["type"]
    if kind in KIND_TITLES:
        return KIND_TITLES[kind]
    field = event.get("field")
    old, new = event.get("old"), event.get("new")
    if field:
        return f"{field}: {old if old is not None else '-'} → {new if new is not None else '-'}  ({kind})"
    return kind


def render_history(
    events: list[dict[str, Any]], mode: str = EVERYTHING, trace: bool = False, newest: int | None = None
) -> Text:
    """The history as text; with `newest`, only that many of the latest transactions.

    Laying text out is what costs (about 2 s for 600 messages here), so the pane shows the newest
    page and brings earlier ones as you scroll up, like a chat client, instead of the whole thread.
    """
    out = Text()
    visible = shown(events, mode)
    if not visible:
        out.append("No history" if not events else f"Nothing here: {MODES[mode]} (f shows more)", style="dim")
    earlier = max(0, len(visible) - newest) if newest is not None else 0
    if earlier:
        visible = visible[earlier:]
        out.append(f"▲ {earlier} earlier transactions: scroll up for more, g for all\n\n", style="dim italic")
    for event in visible:
        message = event.get("message")
        loud = event["type"] in ("Create", "Correspond", "Comment")
        out.append(when(event["created"]) + "  ", style="dim")
        out.append(safe.clean_line(event.get("actor") or "system"), style="bold")
        out.append("  ")
        out.append(safe.clean_line(event_title(event)), style="bold" if loud else "")
        if event["type"] == "Comment":
            out.append("  [internal]", style="italic")
        out.append("\n")
        if message:
            if message.get("hidden"):
                out.append("  (comment hidden: you may not see comments)\n", style="dim italic")
            else:
                body = safe.clean(message.get("content") or "").rstrip()
                if body:
                    for body_line in body.split("\n"):
                        out.append("  │ " + body_line + "\n")
                for att in message.get("attachments") or []:
                    out.append("  attached: ")
                    out.append(safe.clean_line(att["filename"] or "attachment"), style="underline")
                    out.append(f"  {safe.clean_line(att['content_type'])}, {size_text(att['size'])}\n")
        if trace:
            render_trace(event.get("scrips") or [], out)
        out.append("\n")
    return out


def render_trace(runs: list[dict[str, Any]], out: Text) -> None:
    if not runs:
        out.append("  ⚙ no scrip considered this\n", style="dim")
        return
    for run in runs:
        outcome = str(run.get("outcome") or "")
        name = run.get("description") or f"scrip {run.get('scrip')}"
        out.append("  ⚙ ", style="dim")
        out.append(f"#{run.get('scrip')} ", style="dim")
        out.append(safe.clean_line(str(name)))
        out.append(f"  {outcome}", style=OUTCOME_STYLES.get(outcome, ""))
        if run.get("stage") == "TransactionBatch":
            out.append("  (batch)", style="dim")
        if run.get("reason"):
            out.append(": " + safe.clean_line(str(run["reason"])), style="dim")
        out.append("\n")

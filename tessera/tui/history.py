"""The history pane's text: transactions oldest first, filtered on demand, with the scrip trace.

`f` cycles what is shown (everything → correspondence only → correspondence and comments), as k9s
detail toggles do; `i` shows under each transaction the scrips that considered it and what came of
each (fired, condition false, failed and why): RT hides this in its logs, Tessera keeps it one key away.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from tessera.tui import safe

EVERYTHING, MESSAGES, CONVERSATION = "everything", "messages", "conversation"
BAR_WIDTH = 4  # "  │ " before each line of a message
PAGE = 25  # transactions laid out at first, and added each time you scroll to the top
# The order `f` cycles through, and how each is named in the pane's title.
MODES = {EVERYTHING: "", MESSAGES: "correspondence only", CONVERSATION: "correspondence and comments"}
# A delivery failure stays in every view: it says a message above did not reach someone.
MESSAGE_TYPES = {"Create", "Correspond", "DeliveryFailed"}
KIND_TITLES = {
    "Create": "Ticket created",
    "Correspond": "Correspondence",
    "Comment": "Comment",
}
# Each recipient of an outgoing message, by state.
RECIPIENT_STYLES = {"accepted": "green", "refused": "bold red", "deferred": "yellow", "queued": "dim"}
OUTCOME_STYLES = {"committed": "bold", "condition false": "dim", "prepare failed": "bold red"}


def next_mode(mode: str) -> str:
    modes = list(MODES)
    return modes[(modes.index(mode) + 1) % len(modes)] if mode in MODES else EVERYTHING


def types_in(mode: str) -> set[str] | None:
    """The transaction types a mode shows (None: all)."""
    if mode == MESSAGES:
        return set(MESSAGE_TYPES)
    if mode == CONVERSATION:
        return {*MESSAGE_TYPES, "Comment"}
    return None


def count_in(counts: dict[str, int], mode: str) -> int:
    """How many transactions of a history (its counts by type) the mode shows."""
    types = types_in(mode)
    return sum(n for kind, n in counts.items() if types is None or kind in types)


def shown(events: list[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    if mode == MESSAGES:
        return [e for e in events if e["type"] in MESSAGE_TYPES]
    if mode == CONVERSATION:
        return [e for e in events if e["type"] in MESSAGE_TYPES or e["type"] == "Comment"]
    return events


def hidden(events: list[dict[str, Any]], mode: str, newest: int) -> int:
    """How many transactions the window leaves out (those before the newest `newest`)."""
    return max(0, len(shown(events, mode)) - newest)


def title(events: list[dict[str, Any]], mode: str, trace: bool, counts: dict[str, int] | None = None) -> str:
    """The pane's title; `counts`: the whole history's by type, when `events` is only a page of it."""
    if counts is None:
        visible, total = len(shown(events, mode)), len(events)
    else:
        visible, total = count_in(counts, mode), sum(counts.values())
    count = f"{visible} of {total}" if visible != total else str(total)
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
    if kind == "DeliveryFailed":
        return f"⚠ Delivery failed: {event.get('new') or 'a recipient'} did not get the mail"
    if kind in KIND_TITLES:
        return KIND_TITLES[kind]
    field = event.get("field")
    old, new = event.get("old"), event.get("new")
    if field:
        return f"{field}: {old if old is not None else '-'} → {new if new is not None else '-'}  ({kind})"
    # Any other type (a timer's firing, a squelch, a type added later): its name and what it says.
    return f"{kind} — {new}" if new is not None else str(kind)


def bar_lines(body: str, width: int | None) -> list[str]:
    """A message's lines, each under the bar ("  │ "): cut to `width` cells so that a long
    line goes on under the bar instead of wrapping back to the margin (None: as they are)."""
    lines = body.split("\n")
    if width is None or width <= BAR_WIDTH + 8:
        return lines
    room = width - BAR_WIDTH
    out: list[str] = []
    for line in lines:
        if len(line) <= room:
            out.append(line)
        else:
            out.extend(textwrap.wrap(line, room, break_on_hyphens=False, drop_whitespace=True) or [""])
    return out


def render_history(
    events: list[dict[str, Any]],
    mode: str = EVERYTHING,
    trace: bool = False,
    newest: int | None = None,
    width: int | None = None,
    unloaded: int = 0,
) -> Text:
    """The history as one text (`render_blocks` joined)."""
    return Text("\n").join(render_blocks(events, mode, trace, newest, width, unloaded))


def render_blocks(
    events: list[dict[str, Any]],
    mode: str = EVERYTHING,
    trace: bool = False,
    newest: int | None = None,
    width: int | None = None,
    unloaded: int = 0,
) -> list[Text]:
    """The history as blocks of text, oldest first: the "earlier transactions" line (or what
    shows when there is nothing), then one block per transaction; a block's lines are its text
    split at its line breaks (a transaction's last line is the blank one after it).

    With `newest`, only that many of the latest transactions; `width`: the pane's, for message
    lines that keep their bar when they wrap; `unloaded`: how many earlier transactions this mode
    would show that are not in `events` yet (a page of the history). Laying text out is what
    costs (about 2 s for 600 messages here), so the pane shows the newest page and brings earlier
    ones as you scroll up, like a chat client, and draws only the blocks on screen
    (tessera.tui.history_view).
    """
    blocks: list[Text] = []
    visible = shown(events, mode)
    if not visible and not unloaded:
        message = "No history" if not events else f"Nothing here: {MODES[mode]} (f shows more)"
        blocks.append(Text(message, style="dim"))
    earlier = max(0, len(visible) - newest) if newest is not None else 0
    if earlier or unloaded:
        visible = visible[earlier:]
        more = earlier + unloaded
        head = Text(f"▲ {more} earlier transactions: scroll up for more, g for all\n", style="dim italic")
        blocks.append(head)
    for event in visible:
        blocks.append(render_event(event, trace, width))
    return blocks


def render_event(event: dict[str, Any], trace: bool, width: int | None = None) -> Text:
    """One transaction: its line, its message under the bar, what it sent, and a blank line."""
    out = Text()
    message = event.get("message")
    loud = event["type"] in ("Create", "Correspond", "Comment")
    out.append(when(event["created"]) + "  ", style="dim")
    out.append(safe.clean_line(event.get("actor") or "system"), style="bold")
    out.append("  ")
    failed = event["type"] == "DeliveryFailed"
    style = "bold red" if failed else "bold" if loud else ""
    out.append(safe.clean_line(event_title(event)), style=style)
    if event["type"] == "Comment":
        out.append("  [internal]", style="italic")
    out.append("\n")
    if message:
        if message.get("hidden"):
            out.append("  (comment hidden: you may not see comments)\n", style="dim italic")
        else:
            body = safe.clean(message.get("content") or "").rstrip()
            if body:
                for body_line in bar_lines(body, width):
                    out.append("  │ " + body_line + "\n")
            for att in message.get("attachments") or []:
                out.append("  attached: ")
                out.append(safe.clean_line(att["filename"] or "attachment"), style="underline")
                out.append(f"  {safe.clean_line(att['content_type'])}, {size_text(att['size'])}\n")
    fired = event.get("data") or {}
    if fired.get("scrip") and fired.get("condition"):  # a timer's firing: which scrip, and why
        out.append(f"  ⏱ fired by {safe.clean_line(str(fired['scrip']))}", style="italic")
        out.append(f" ({safe.clean_line(str(fired['condition']))})", style="dim")
        if fired.get("deadline"):
            out.append(f", deadline {when(str(fired['deadline']))}", style="dim")
        out.append("\n")
    if failed:
        for refused in (event.get("data") or {}).get("refused") or []:
            out.append("  ✗ " + safe.clean_line(str(refused.get("address"))), style="bold red")
            out.append(": " + safe.clean_line(str(refused.get("reply") or "refused")) + "\n")
    render_outgoing(event.get("outgoing") or [], out)
    if trace:
        render_trace(event.get("scrips") or [], out)
    return out


def render_outgoing(mails: list[dict[str, Any]], out: Text) -> None:
    """Under a transaction, the mail it sent and what became of each recipient."""
    for mail in mails:
        out.append(f"  ✉ mail #{mail['id']} ", style="dim")
        out.append(safe.clean_line(str(mail.get("subject") or "(no subject)")))
        out.append(f"  {mail['state']}\n", style="dim")
        for rcpt in mail.get("recipients") or []:
            state = str(rcpt.get("state"))
            out.append("      " + safe.clean_line(str(rcpt.get("address"))) + "  ")
            out.append(state, style=RECIPIENT_STYLES.get(state, ""))
            if state == "deferred" and rcpt.get("next_attempt"):
                retry = when(rcpt["next_attempt"])
                out.append(f" (attempt {rcpt.get('attempts')}, next {retry})", style="dim")
            if state != "accepted" and rcpt.get("reply"):
                out.append(": " + safe.clean_line(str(rcpt["reply"])), style="dim")
            out.append("\n")


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

"""A reply starts with the message it answers quoted, as mutt, aerc and RT do:

    On 2026-11-27 12:00, printer@customer.example wrote:
    > It is on fire.
    > Please help.

The message answered is the newest one (the ticket's first message, or a reply) written by someone
else than the one replying, else the newest; comments are never quoted to a requestor. `R` (or the
`tui.quote` preference turned off from the palette) starts a reply blank instead.
"""

from __future__ import annotations

from typing import Any

from tessera.tui import safe
from tessera.tui.history import MESSAGE_TYPES, when

PREF_QUOTE = "tui.quote"
MAX_LINES = 500  # a longer message is quoted in part, and says how much is left out


def answered(history: list[dict[str, Any]], me: str | None) -> dict[str, Any] | None:
    """The transaction a reply answers (see the module's docstring), or None when there is none."""
    messages = [
        event
        for event in history
        if event["type"] in MESSAGE_TYPES
        and (event.get("message") or {}).get("content")
        and not (event.get("message") or {}).get("hidden")
    ]
    others = [event for event in messages if event.get("actor") != me]
    found = others or messages
    return found[-1] if found else None


def answers_in(history: list[dict[str, Any]], me: str | None) -> bool:
    """Whether the newest part of a history holds the message a reply answers, whatever came
    before it: a message from someone else (else the answer would be an earlier one, or yours)."""
    return any(
        event["type"] in MESSAGE_TYPES
        and (event.get("message") or {}).get("content")
        and not (event.get("message") or {}).get("hidden")
        and event.get("actor") != me
        for event in history
    )


def quote(history: list[dict[str, Any]], me: str | None) -> str:
    """The start of a reply: the answered message quoted, then an empty line for yours ("" if none)."""
    event = answered(history, me)
    if event is None:
        return ""
    body = safe.clean(event["message"]["content"]).rstrip().split("\n")
    left_out = len(body) - MAX_LINES
    lines = [f"> {line}".rstrip() for line in body[:MAX_LINES]]
    if left_out > 0:
        lines.append(f"> [… {left_out} more lines]")
    who = safe.clean_line(event.get("actor") or "someone")
    return f"On {when(event['created'])}, {who} wrote:\n" + "\n".join(lines) + "\n\n"

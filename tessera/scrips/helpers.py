"""The names a template or an expression sees, in one registry: the values the engine hands it
(`scrip_context.SharedViews.variables`), the names and calls the editor's check accepts
(`checks`), and the list in the editor's help all come from `NAMES`, so the check and the dry-run
cannot disagree on a name, nor the help on either.

The helpers take what a template has at hand: `display_id(ticket)`, `display_id(ticket.id)` and
`display_id("42")` all give `TKT-0042`; `quote` takes text or anything with a `content`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tessera.core import ids


@dataclass(frozen=True)
class Name:
    """One name templates see: how it is used, what it is, and (a helper) how many arguments."""

    name: str
    usage: str
    doc: str
    args: tuple[int, int] | None = None  # a helper: (fewest, most) positional arguments

    @property
    def helper(self) -> bool:
        return self.args is not None


NAMES: tuple[Name, ...] = (
    Name("ticket", "ticket.subject", "the ticket: id, display_id, subject, status, owner, requestors, …"),
    Name("transaction", "transaction.content", "the change: type, field, old, new, content, description"),
    Name("queue", "queue.name", "the ticket's queue: name, description, addresses"),
    Name("actor", "actor.real_name", "who made the change: name, email, real_name"),
    Name("argument", "argument", "the scrip action's argument"),
    Name("scrip", "scrip.description", "the scrip running: id, description"),
    Name("desk", "desk", "the desk's name ($TESSERA_DESK_NAME, else Tessera)"),
    Name("display_id", "display_id(ticket)", "TKT-0042, from a ticket, its id or its number", (1, 1)),
    Name("history", "history(limit)", "the ticket's transactions, oldest first (the last `limit`)", (0, 1)),
    Name("quote", "quote(text)", "text quoted line by line with '> ' (also a filter: text|quote)", (1, 2)),
    Name("range", "range(n)", "0 … n-1, for loops (capped by the sandbox)", (1, 3)),
)
BY_NAME = {n.name: n for n in NAMES}


def display_id(ticket: Any) -> str:
    """`TKT-0042` for a ticket (its view), its id, or its number as text (`42`, `#42`, `TKT-42`)."""
    shown = getattr(ticket, "display_id", None)
    if isinstance(shown, str):
        return shown
    number = getattr(ticket, "id", ticket)
    if isinstance(number, int) and not isinstance(number, bool) and number > 0:
        return ids.display_id(number)
    if isinstance(number, str) and ids.ticket_number(number) is not None:
        return ids.display_id(ids.ticket_number(number) or 0)
    raise ValueError(f"display_id() takes a ticket or its number, not {type(ticket).__name__}")


def quote(text: Any, prefix: str = "> ") -> str:
    """The message being answered, quoted line by line as mail clients do: text, or anything with
    a `content` (a transaction, a message)."""
    if text is not None and not isinstance(text, str):
        text = getattr(text, "content", text)
    value = "" if text is None else str(text)
    return "\n".join(prefix + line if line else prefix.rstrip() for line in value.splitlines())


def misuse(name: str, args: int) -> str | None:
    """Why calling `name` with `args` positional arguments fails (None: it does not)."""
    found = BY_NAME.get(name)
    if found is None:
        return None
    if found.args is None:
        return f"{name} is not a helper: use it as {found.usage}"
    low, high = found.args
    if low <= args <= high:
        return None
    if name == "display_id":
        return f"display_id() takes a ticket or its number: {found.usage}"
    return f"{name}() takes {low}-{high} arguments: {found.usage}"

"""The command palette's own provider: a ticket number typed there (`42`, `#42`, `TKT-0042`) opens
that ticket, as RT's quick search does. The app's actions come from `App.get_system_commands`."""

from __future__ import annotations

from functools import partial
from typing import Protocol, cast

from rich.text import Text
from textual.command import Hit, Hits, Provider

from tessera.core.ids import display_id, ticket_number


class Jumper(Protocol):
    def jump_to(self, ticket_id: int) -> None: ...


class TicketJump(Provider):
    async def search(self, query: str) -> Hits:
        number = ticket_number(query)
        if number is None:
            return
        main = cast("Jumper | None", getattr(self.app, "main", None))
        if main is None:
            return
        label = f"Open {display_id(number)}"
        jump = partial(main.jump_to, number)
        yield Hit(1.0, Text(label, style="bold"), jump, text=label, help="Jump to the ticket by its number")

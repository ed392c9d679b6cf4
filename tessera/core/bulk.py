"""A change to a set of tickets, made as RT's bulk update makes it: each ticket on its own (its own
database transaction, its own scrips), so a refused ticket is skipped and the rest still apply.
The result names each refused ticket and why, for every front end to show the same way.

`apply_each` runs any per-ticket operation over a set; `take_set` is the marked set's `t`: unowned
tickets are taken, and those someone else owns are stolen only when the caller says so (as a single
`t` asks before a steal); `owners` says beforehand which is which, for the question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tessera.core.errors import DatabaseUnavailable, InvalidInput, TesseraError
from tessera.core.ids import display_id

if TYPE_CHECKING:  # light to import: the TUI names EACH_ON_ITS_OWN before the database is needed
    from tessera.core.context import Context

# What every confirmation of a change to several tickets says of a refusal (RT's semantics).
EACH_ON_ITS_OWN = "Each ticket is changed on its own: a refused one is skipped, the rest still apply."


@dataclass(frozen=True)
class Refusal:
    """A ticket of the set that was not changed, and why (one line)."""

    ticket_id: int
    ticket: str  # its display id
    reason: str

    def line(self) -> str:
        """`TKT-0042: why`; core's message as it is when it names the ticket first already."""
        if self.reason.startswith(self.ticket + " "):
            return self.reason
        return f"{self.ticket}: {self.reason}"


@dataclass(frozen=True)
class BulkResult:
    """What a change to a set did: the tickets it changed, and each refused one with its reason."""

    done: list[int]
    refused: list[Refusal] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [r.line() for r in self.refused]


def apply_each(ctx: Context, ticket_ids: list[int], act: Callable[[Context, int], object]) -> BulkResult:
    """`act(ctx, id)` for each ticket, each its own unit of work (`act` is an operation): a refusal
    skips that ticket, and the others are changed all the same."""
    done: list[int] = []
    refused: list[Refusal] = []
    for n, ticket_id in enumerate(ticket_ids):
        try:
            act(ctx, ticket_id)
            done.append(ticket_id)
        except DatabaseUnavailable as exc:
            if not done:
                raise  # nothing changed: the front end reports the lost database as it does
            refused.append(Refusal(ticket_id, display_id(ticket_id), exc.message))
            left = ticket_ids[n + 1 :]
            refused.extend(
                Refusal(t, display_id(t), "not tried: the database stopped answering") for t in left
            )
            break
        except TesseraError as exc:
            ctx.session.rollback()  # the operation rolled its unit back; this ends any read too
            refused.append(Refusal(ticket_id, display_id(ticket_id), exc.message))
    return BulkResult(done, refused)


@dataclass(frozen=True)
class Owners:
    """Who owns the tickets of a set: nobody, you, or someone else (id -> their name)."""

    free: list[int]
    mine: list[int]
    others: dict[int, str]


def owners(ctx: Context, ticket_ids: list[int]) -> Owners:
    """Who owns each ticket now (a ticket you may not see is left out: the take refuses it)."""
    from tessera.core.tickets import get_ticket

    free: list[int] = []
    mine: list[int] = []
    others: dict[int, str] = {}
    for ticket_id in ticket_ids:
        try:
            ticket = get_ticket(ctx, ticket_id)
        except TesseraError:
            free.append(ticket_id)
            continue
        if ticket.owner_id is None:
            free.append(ticket_id)
        elif ticket.owner_id == ctx.actor.id:
            mine.append(ticket_id)
        else:
            others[ticket_id] = ticket.owner.name if ticket.owner is not None else "someone"
    return Owners(free, mine, others)


def take_set(ctx: Context, ticket_ids: list[int], *, steal: bool) -> BulkResult:
    """Own each ticket: take an unowned one; one someone else owns is stolen when `steal` (RT's
    StealTicket right decides), else refused as theirs; one already yours is refused as such.
    Who owns it is read when its turn comes, so a take that races another still says whose it is."""
    from tessera.core import ownership

    def own(c: Context, ticket_id: int) -> object:
        try:
            return ownership.take(c, ticket_id)
        except ownership.OwnedBySomeoneElse as exc:
            if not steal:
                raise InvalidInput(f"owned by {exc.owner}; not stolen (you chose to leave it)") from None
            return ownership.steal(c, ticket_id)

    return apply_each(ctx, ticket_ids, own)

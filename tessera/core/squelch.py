"""Squelching for the ticket (RT's SquelchMailTo): addresses no scrip mails about a ticket until
they are unsquelched. Each change is a transaction (Squelch / Unsquelch) and needs ModifyTicket;
only agents squelch (as only agents give a message's one-time squelch)."""

from __future__ import annotations

from sqlalchemy import select

from tessera.core.context import Context, operation, record
from tessera.core.errors import InvalidInput, PermissionDenied
from tessera.core.models import TicketSquelch, Transaction
from tessera.core.schemas import normalise_email
from tessera.core.ticket_read import for_change


def squelched_of(ctx: Context, ticket_id: int) -> list[str]:
    """The ticket's squelched addresses, in order."""
    return list(
        ctx.session.scalars(
            select(TicketSquelch.address)
            .where(TicketSquelch.ticket_id == ticket_id)
            .order_by(TicketSquelch.address)
        )
    )


@operation
def set_squelch(
    ctx: Context,
    ref: str | int,
    addresses: list[str],
    *,
    on: bool = True,
    expected_version: int | None = None,
) -> list[Transaction]:
    """Squelch (or, `on=False`, unsquelch) addresses on a ticket; one transaction per address that
    changed (none for one already so)."""
    ticket = for_change(ctx, ref, expected_version)
    verb = "squelch mail on" if on else "unsquelch mail on"
    if not ctx.system and not ctx.actor.privileged:
        raise PermissionDenied(f"only agents may {verb} {ticket.display_id}")
    ctx.require("ModifyTicket", verb, ticket.display_id, queue_id=ticket.queue_id, ticket=ticket)
    if not addresses:
        raise InvalidInput("name an address to squelch")
    done: list[Transaction] = []
    for raw in dict.fromkeys(normalise_email(a).lower() for a in addresses):
        held = ctx.session.get(TicketSquelch, (ticket.id, raw))
        if on and held is None:
            ctx.session.add(TicketSquelch(ticket_id=ticket.id, address=raw))
            done.append(record(ctx, ticket, "Squelch", field="SquelchMailTo", new=raw))
        elif not on and held is not None:
            ctx.session.delete(held)
            done.append(record(ctx, ticket, "Unsquelch", field="SquelchMailTo", old=raw))
    return done

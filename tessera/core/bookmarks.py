"""Bookmarks: each user's own list of tickets to come back to (RT's Bookmarks), searchable as
TicketSQL's `id = '__Bookmarked__'`. A bookmark is the user's, not the ticket's: it records no
transaction and runs no scrip; the ticket must be one the user may see."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.dialects.postgresql import insert

from tessera.core.context import Context, operation
from tessera.core.models import Ticket, TicketBookmark
from tessera.core.ticket_read import get_ticket


@operation
def set_bookmark(ctx: Context, ref: str | int, on: bool = True) -> tuple[int, bool]:
    """Bookmark the ticket (or, with on=False, remove the bookmark): (ticket id, bookmarked now).
    Doing it twice is no error; a merged ticket's bookmark goes to the ticket it was merged into."""
    ticket = get_ticket(ctx, ref)
    if on:
        ctx.session.execute(
            insert(TicketBookmark)
            .values(user_id=ctx.actor.id, ticket_id=ticket.id, created=ctx.now)
            .on_conflict_do_nothing()
        )
    else:
        ctx.session.execute(
            delete(TicketBookmark).where(TicketBookmark.user_id == ctx.actor.id, _marks(ticket.id))
        )
    return ticket.id, on


def _marks(ticket_id: int) -> ColumnElement[bool]:
    """The bookmarks that name the ticket: its own, and those of tickets merged into it."""
    merged_here = select(Ticket.id).where(func.coalesce(Ticket.merged_into_id, Ticket.id) == ticket_id)
    return TicketBookmark.ticket_id.in_(merged_here)


@operation
def toggle_bookmark(ctx: Context, ref: str | int) -> tuple[int, bool]:
    """The TUI's key: bookmark the ticket, or remove the bookmark it has. (ticket id, bookmarked now)."""
    ticket = get_ticket(ctx, ref)
    return set_bookmark(ctx, ticket.id, not is_bookmarked(ctx, ticket.id))


def is_bookmarked(ctx: Context, ticket_id: int) -> bool:
    found = ctx.session.scalar(
        select(TicketBookmark.ticket_id)
        .where(TicketBookmark.user_id == ctx.actor.id, _marks(ticket_id))
        .limit(1)
    )
    return found is not None


def bookmarked_ids(ctx: Context) -> set[int]:
    """The actor's bookmarked tickets, each as the ticket it was merged into if it was."""
    effective = func.coalesce(Ticket.merged_into_id, Ticket.id)
    return set(
        ctx.session.scalars(
            select(effective)
            .select_from(TicketBookmark)
            .join(Ticket, Ticket.id == TicketBookmark.ticket_id)
            .where(TicketBookmark.user_id == ctx.actor.id)
        )
    )

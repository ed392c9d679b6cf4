"""Owner changes with RT's rules: take, steal, untake, give.

* Take: the ticket is unowned; the actor needs OwnTicket and one of ModifyTicket, ReassignTicket, TakeTicket.
* Steal: someone else owns it; OwnTicket and one of ModifyTicket, ReassignTicket, StealTicket.
* Untake: only the current owner, back to Nobody.
* Give: to a third person needs ReassignTicket when someone else owns it, else ModifyTicket or
  ReassignTicket; the new owner must hold OwnTicket on the queue.
"""

from __future__ import annotations

from tessera.core.context import Context, operation, record
from tessera.core.errors import InvalidInput, PermissionDenied
from tessera.core.models import Ticket, Transaction, User
from tessera.core.rights import RightsCache
from tessera.core.ticket_read import for_change
from tessera.core.users import get_user

NOBODY = ("", "nobody", "none", "-")


class OwnedBySomeoneElse(InvalidInput):
    """A take of a ticket someone owns (perhaps since a moment ago): names the owner now, so a
    front end can say how to steal it in its own words."""

    def __init__(self, ticket: Ticket, owner: str) -> None:
        super().__init__(f"{ticket.display_id} is owned by {owner}; steal it instead")
        self.display_id = ticket.display_id
        self.owner = owner


def _may_own(ctx: Context, user: User, ticket: Ticket) -> None:
    # Ticket roles count, as for any right (RT checks OwnTicket on the ticket): OwnTicket granted
    # to Requestor lets a requestor own their own tickets.
    rights = RightsCache.load(ctx.session, user)
    if not rights.has("OwnTicket", ticket.queue_id, session=ctx.session, ticket=ticket):
        raise PermissionDenied(
            f"{user.name} may not own tickets in queue {ticket.queue.name} (needs OwnTicket)"
        )


def _owner_name(ticket: Ticket) -> str:
    return ticket.owner.name if ticket.owner is not None else "Nobody"


def _apply(ctx: Context, ticket: Ticket, new: User | None, kind: str) -> Transaction:
    old_name = _owner_name(ticket)
    ticket.owner_id = new.id if new is not None else None
    ticket.owner = new
    ctx.rights.forget_ticket(ticket.id)
    return record(ctx, ticket, kind, field="Owner", old=old_name, new=new.name if new else "Nobody")


def set_owner(ctx: Context, ticket: Ticket, who: str) -> Transaction | None:
    """Give the ticket to `who` (a user name, or Nobody), choosing Take/Steal/Untake/Give as RT does."""
    target = None if who.strip().lower() in NOBODY else get_user(ctx, who)
    current = ticket.owner_id
    me = ctx.actor.id
    if (target.id if target else None) == current:
        return None

    def require(rights: tuple[str, ...], what: str) -> None:
        ctx.require(rights, what, ticket.display_id, queue_id=ticket.queue_id, ticket=ticket)

    if target is None:
        if current == me:
            return _apply(ctx, ticket, None, "Untake")
        require(("ReassignTicket", "ModifyTicket"), "take someone else's ownership of")
        return _apply(ctx, ticket, None, "Give")
    if not ctx.system:
        _may_own(ctx, target, ticket)
    if target.id == me:
        if current is None:
            require(("ModifyTicket", "ReassignTicket", "TakeTicket"), "take")
            return _apply(ctx, ticket, target, "Take")
        require(("ModifyTicket", "ReassignTicket", "StealTicket"), "steal")
        return _apply(ctx, ticket, target, "Steal")
    if current is not None and current != me and not ctx.can("ReassignTicket", ticket.queue_id, ticket):
        raise PermissionDenied(
            f"{ctx.actor.name} may not give {ticket.display_id} away: it is owned by {_owner_name(ticket)} "
            "(you can only reassign tickets that you own or that are unowned; needs ReassignTicket)"
        )
    require(("ModifyTicket", "ReassignTicket"), "give away")
    return _apply(ctx, ticket, target, "Give")


def _load(ctx: Context, ref: str | int, expected_version: int | None) -> Ticket:
    return for_change(ctx, ref, expected_version)


@operation
def take(ctx: Context, ref: str | int, *, expected_version: int | None = None) -> Transaction:
    ticket = _load(ctx, ref, expected_version)
    if ticket.owner_id == ctx.actor.id:
        raise InvalidInput(f"{ticket.display_id} is already yours")
    if ticket.owner_id is not None:
        raise OwnedBySomeoneElse(ticket, _owner_name(ticket))
    txn = set_owner(ctx, ticket, ctx.actor.name)
    assert txn is not None
    return txn


@operation
def steal(ctx: Context, ref: str | int, *, expected_version: int | None = None) -> Transaction:
    ticket = _load(ctx, ref, expected_version)
    if ticket.owner_id is None:
        raise InvalidInput(f"{ticket.display_id} is unowned; take it instead")
    if ticket.owner_id == ctx.actor.id:
        raise InvalidInput(f"{ticket.display_id} is already yours")
    txn = set_owner(ctx, ticket, ctx.actor.name)
    assert txn is not None
    return txn


@operation
def untake(ctx: Context, ref: str | int, *, expected_version: int | None = None) -> Transaction:
    ticket = _load(ctx, ref, expected_version)
    if ticket.owner_id != ctx.actor.id:
        owner = ticket.owner.name if ticket.owner else "nobody"
        raise PermissionDenied(f"only the owner can untake {ticket.display_id} (it is owned by {owner})")
    return _apply(ctx, ticket, None, "Untake")


@operation
def give(
    ctx: Context, ref: str | int, who: str, *, expected_version: int | None = None
) -> Transaction | None:
    ticket = _load(ctx, ref, expected_version)
    return set_owner(ctx, ticket, who)

"""A lifecycle action in one step, as RT's action menu runs it: the action's update (a reply or a
comment, when a message is given) and its status change, in one unit of work and so one scrip batch
(`[Comment, Status]`, as RT's "Resolve with comment" makes). The CLI's `ticket action` and the
TUI's status picker both call `run_action`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tessera.core import statuses, tickets
from tessera.core.context import Context, operation
from tessera.core.errors import InvalidInput
from tessera.core.lifecycles.desk import lifecycle_of
from tessera.core.lifecycles.errors import TransitionRefused
from tessera.core.lifecycles.model import Action
from tessera.core.models import Ticket, Transaction
from tessera.core.schemas import MessageIn
from tessera.core.spelling import did_you_mean
from tessera.core.ticket_read import locked_for_change

UpdateKind = Literal["reply", "comment"]


@dataclass(frozen=True)
class ActionDone:
    """What `run_action` did: the action, its message's transaction (if any), its status change."""

    ticket: Ticket
    action: Action
    message: Transaction | None
    status: Transaction | None


def _find(ctx: Context, ticket: Ticket, name: str) -> Action:
    """The action named `name` (its label, or its target status, in any case) that the lifecycle
    offers this actor from the ticket's status; a refusal lists what is offered."""
    lifecycle = lifecycle_of(ctx.session, ticket.queue)

    def can(right: str) -> bool:
        return ctx.can(right, ticket.queue_id, ticket)

    offered = lifecycle.actions_for(ticket.status, can=can)
    wanted = " ".join(name.split()).lower()
    for action in offered:
        if action.label.lower() == wanted:
            return action
    by_status = [a for a in offered if a.to.lower() == wanted]
    if len(by_status) == 1:
        return by_status[0]
    labels = [a.label for a in offered]
    every = [a.label for a in lifecycle.actions]
    exists = any(a.label.lower() == wanted or a.to.lower() == wanted for a in lifecycle.actions)
    why = (
        f"lifecycle '{lifecycle.name}' offers {ctx.actor.name} no action {name!r} from "
        f"{lifecycle.display(ticket.status)}"
        if exists
        else f"lifecycle '{lifecycle.name}' has no action {name!r}{did_you_mean(name, every)}"
    )
    shown = ", ".join(repr(label) for label in labels) or "none"
    raise TransitionRefused(f"{ticket.display_id}: {why} (offered now: {shown})")


@operation
def run_action(
    ctx: Context,
    ref: str | int,
    name: str,
    message: MessageIn | None = None,
    *,
    update: UpdateKind | None = None,
    force: bool = False,
    expected_version: int | None = None,
) -> ActionDone:
    """Run lifecycle action `name` on a ticket: its message first (a reply when the action's update
    is `respond`, else a comment; `update` overrides), then its status change. A message is
    optional, as on RT's update page; `force` passes the dependency gate (FORCE_RIGHT)."""
    ticket, depends = locked_for_change(ctx, ref, expected_version)
    action = _find(ctx, ticket, name)
    posted: Transaction | None = None
    if message is not None and not message.is_empty():
        kind = update or ("reply" if action.update == "respond" else "comment")
        post = tickets.correspond if kind == "reply" else tickets.comment
        posted = post(ctx, ticket.id, message)
    elif update is not None:
        raise InvalidInput(f"--{update} needs a message (--body)")
    changed = statuses.change_status(ctx, ticket, action.to, force=force, depends=depends)
    return ActionDone(ticket=ticket, action=action, message=posted, status=changed)

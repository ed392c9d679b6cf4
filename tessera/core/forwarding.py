"""RT's Forward: a message of a ticket, or the whole ticket, sent on to people outside it.

The forward is a transaction on the ticket ("Forward Transaction" naming the message, or "Forward
Ticket") that keeps its recipients and the agent's note; the mail itself is written by the scrips
(On Forward Transaction / On Forward Ticket -> SendForward), through the outbox like every other
mail, so it is sent only if the forward committed, retried while the mail server is down, and
shown in the dry-run and the trace.
"""

from __future__ import annotations

from tessera.core.context import Context, operation, record
from tessera.core.desk_addresses import desk_addresses, refuse
from tessera.core.errors import NotFound
from tessera.core.messages import store_message
from tessera.core.models import Transaction
from tessera.core.schemas import ForwardIn, MessageIn
from tessera.core.ticket_read import for_change

FORWARD_TRANSACTION = "Forward Transaction"
FORWARD_TICKET = "Forward Ticket"
FORWARD_TYPES = (FORWARD_TRANSACTION, FORWARD_TICKET)
# What a forward can name: the transactions that carry a message.
FORWARDABLE = ("Create", "Correspond", "Comment")


@operation
def forward(
    ctx: Context, ref: str | int, data: ForwardIn, *, expected_version: int | None = None
) -> Transaction:
    """Forward the message `data.transaction` of the ticket, or (None) the whole ticket's public
    conversation, to `data.to`/`cc`/`bcc`. Needs RT's ForwardMessage right; a comment is forwarded
    only by someone who may read it; the desk's own addresses are refused (it would mail itself)."""
    ticket = for_change(ctx, ref, expected_version)
    where = ticket.display_id
    ctx.require("ForwardMessage", "forward", where, queue_id=ticket.queue_id, ticket=ticket)
    own = desk_addresses(ctx.session)
    kept: dict[str, object] = {}
    for key, addresses in (("to", data.to), ("cc", data.cc), ("bcc", data.bcc)):
        for address in addresses:
            if address.strip().lower() in own:
                raise refuse(address, "forward recipient", where)
        if addresses:
            kept[key] = list(dict.fromkeys(a.strip() for a in addresses))
    kind = FORWARD_TICKET
    if data.transaction is not None:
        message = ctx.session.get(Transaction, data.transaction)
        hidden = (
            message is not None
            and message.type == "Comment"
            and not ctx.can("ShowTicketComments", ticket.queue_id, ticket)
        )
        if message is None or message.ticket_id != ticket.id or message.type not in FORWARDABLE or hidden:
            raise NotFound(f"{where} has no message #{data.transaction} to forward")
        kind = FORWARD_TRANSACTION
        kept["forwarded"] = message.id
    txn = record(ctx, ticket, kind, data=kept)
    if data.body.strip():
        store_message(ctx, txn, ticket.queue, MessageIn(body=data.body, subject=f"Fwd: {ticket.subject}"))
    return txn

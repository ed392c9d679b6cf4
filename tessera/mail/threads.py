"""Which ticket a received message belongs to: its subject's tag (RT's variants, each queue's
own), then the desk's In-Reply-To and References."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.core import subject_tags
from tessera.core.context import Context
from tessera.core.desk_addresses import desk_addresses
from tessera.core.errors import TesseraError
from tessera.core.models import (
    Attachment,
    OutboxMessage,
    Ticket,
    Transaction,
)
from tessera.core.tickets import get_ticket
from tessera.mail.inbound import ParsedMail
from tessera.scrips import compose

_TICKET_REF = re.compile(r"^<tessera-ticket-(\d{1,9})@([^>]+)>$", re.I)


# -- threading ------------------------------------------------------------------------------------


@dataclass
class Thread:
    ticket: Ticket
    how: str  # outbox, tag, reference, stored
    evidence: str

    @property
    def unguessable(self) -> bool:
        return self.how in ("outbox", "stored")


def own_addresses(session: Session) -> tuple[set[str], set[str]]:
    """The desk's own addresses and mail domains (queue addresses and the fallback sender)."""
    addresses = desk_addresses(session)
    domains = {a.rsplit("@", 1)[1] for a in addresses if "@" in a}
    return addresses, domains


def find_thread(
    ctx: Context, parsed: ParsedMail, domains: set[str], ticket_ref: str | None = None
) -> Thread | None:
    """The ticket a message is about. A ticket named by the address extension (`--extension
    ticket`) is the only one tried (RT: the ticket parameter wins over the subject)."""
    session = ctx.session
    if ticket_ref is not None:
        from tessera.core.ticket_read import parse_ref

        try:
            named = get_ticket(ctx, parse_ref(ticket_ref), check=False)
        except TesseraError:
            return None
        return Thread(named, "extension", f"the address extension names {named.display_id}")
    refs = [*parsed.in_reply_to, *reversed(parsed.references)]
    refs = list(dict.fromkeys(r[:998] for r in refs))[:60]

    def load(ticket_id: int) -> Ticket | None:
        try:
            return get_ticket(ctx, ticket_id, check=False)
        except TesseraError:
            return None

    # Our own message coming back (a loop) carries its own Message-ID: the outbox knows it.
    own_id = [parsed.message_id[:998]] if parsed.message_id else []
    if refs or own_id:
        sent = session.execute(
            select(OutboxMessage.message_id, OutboxMessage.ticket_id).where(
                OutboxMessage.message_id.in_([*own_id, *refs]), OutboxMessage.ticket_id.is_not(None)
            )
        ).all()
        found = {mid: tid for mid, tid in sent if tid is not None}
        for ref in [*own_id, *refs]:
            if ref in found and (ticket := load(found[ref])) is not None:
                return Thread(ticket, "outbox", f"{ref} is a message Tessera sent")
    match = subject_tags.find(parsed.subject, compose.desk_name(), subject_tags.queue_tags(session))
    if match and (ticket := load(int(match.group(1)))) is not None:
        return Thread(ticket, "tag", f"subject tag [{match.group(0).strip('[] ')}]")
    for ref in refs:
        pseudo = _TICKET_REF.match(ref)
        if pseudo and pseudo.group(2).lower() in domains and (ticket := load(int(pseudo.group(1)))):
            return Thread(ticket, "reference", f"References {ref}")
    if refs:
        stored = session.execute(
            select(Attachment.message_id, Transaction.ticket_id)
            .join(Transaction, Transaction.id == Attachment.transaction_id)
            .where(Attachment.message_id.in_(refs))
        ).all()
        found = {mid: tid for mid, tid in stored if mid is not None}
        for ref in refs:
            if ref in found and (ticket := load(found[ref])) is not None:
                return Thread(ticket, "stored", f"{ref} is a message stored on {ticket.display_id}")
    return None

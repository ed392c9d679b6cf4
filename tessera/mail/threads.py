"""Which ticket a received message belongs to: its subject's tag (RT's variants, each queue's
own), then the desk's In-Reply-To and References."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from tessera.core import subject_tags
from tessera.core.context import Context
from tessera.core.desk_addresses import ALL_QUEUE_ADDRESSES, desk_addresses
from tessera.core.errors import TesseraError
from tessera.core.models import (
    Attachment,
    InboundMail,
    OutboxMessage,
    Queue,
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


@dataclass
class Lookups:
    """What the gateway reads about a message before it knows its sender, in one round trip: the
    same bytes filed already (id, action, ticket), the desk's addresses and mail domains, every
    queue's subject tag, and which of the Message-IDs it names Tessera sent (and on what ticket)."""

    earlier: tuple[int, str, int | None] | None
    own: set[str]
    domains: set[str]
    tags: list[str]
    sent: dict[str, int]


def _refs(parsed: ParsedMail) -> list[str]:
    refs = [*parsed.in_reply_to, *reversed(parsed.references)]
    return list(dict.fromkeys(r[:998] for r in refs))[:60]


def _own_id(parsed: ParsedMail) -> list[str]:
    return [parsed.message_id[:998]] if parsed.message_id else []


def lookups(session: Session, parsed: ParsedMail, raw: bytes, queue_id: int) -> Lookups:
    """`Lookups` for a message received through the queue `queue_id`."""
    none: Any = literal(None)
    earlier: Any = none
    if parsed.message_id:
        # The same bytes already filed through this queue (see gateway's duplicate delivery).
        earlier = (
            select(func.json_build_array(InboundMail.id, InboundMail.action, InboundMail.ticket_id))
            .where(
                InboundMail.message_id == parsed.message_id[:998],
                InboundMail.queue_id == queue_id,
                InboundMail.action.in_(("create", "correspond", "comment")),
                InboundMail.size == len(raw),
                InboundMail.raw == raw,
            )
            .limit(1)
            .scalar_subquery()
        )
    tags = (  # every queue's own tag, in the order of `subject_tags.queue_tags`
        select(func.json_agg(aggregate_order_by(Queue.subject_tag, Queue.id)))
        .where(Queue.subject_tag.is_not(None))
        .scalar_subquery()
    )
    ids = [*_own_id(parsed), *_refs(parsed)]
    sent: Any = none
    if ids:
        sent = (
            select(func.json_agg(func.json_build_array(OutboxMessage.message_id, OutboxMessage.ticket_id)))
            .where(OutboxMessage.message_id.in_(ids), OutboxMessage.ticket_id.is_not(None))
            .scalar_subquery()
        )
    row = session.execute(select(earlier, ALL_QUEUE_ADDRESSES, tags, sent)).one()
    found_earlier, addresses, found_tags, found_sent = row
    own = desk_addresses(session, addresses or [])
    return Lookups(
        earlier=(found_earlier[0], found_earlier[1], found_earlier[2]) if found_earlier else None,
        own=own,
        domains={a.rsplit("@", 1)[1] for a in own if "@" in a},
        tags=[tag for tag in found_tags or [] if tag],
        sent={mid: tid for mid, tid in found_sent or [] if tid is not None},
    )


def find_thread(
    ctx: Context,
    parsed: ParsedMail,
    domains: set[str],
    ticket_ref: str | None = None,
    known: Lookups | None = None,
) -> Thread | None:
    """The ticket a message is about. A ticket named by the address extension (`--extension
    ticket`) is the only one tried (RT: the ticket parameter wins over the subject). `known`: the
    message's `lookups`, read already."""
    session = ctx.session
    if ticket_ref is not None:
        from tessera.core.ticket_read import parse_ref

        try:
            named = get_ticket(ctx, parse_ref(ticket_ref), check=False)
        except TesseraError:
            return None
        return Thread(named, "extension", f"the address extension names {named.display_id}")
    refs = _refs(parsed)

    def load(ticket_id: int) -> Ticket | None:
        try:
            return get_ticket(ctx, ticket_id, check=False)
        except TesseraError:
            return None

    # Our own message coming back (a loop) carries its own Message-ID: the outbox knows it.
    own_id = _own_id(parsed)
    if refs or own_id:
        if known is not None:
            found = known.sent
        else:
            sent = session.execute(
                select(OutboxMessage.message_id, OutboxMessage.ticket_id).where(
                    OutboxMessage.message_id.in_([*own_id, *refs]), OutboxMessage.ticket_id.is_not(None)
                )
            ).all()
            found = {mid: tid for mid, tid in sent if tid is not None}
        for ref in [*own_id, *refs]:
            if ref in found and (ticket := load(found[ref])) is not None:
                return Thread(ticket, "outbox", f"{ref} is a message Tessera sent")
    tags = known.tags if known is not None else subject_tags.queue_tags(session)
    match = subject_tags.find(parsed.subject, compose.desk_name(), tags)
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

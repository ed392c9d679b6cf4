"""Which ticket a received message belongs to: its subject's tag (RT's variants, each queue's
own), then the desk's In-Reply-To and References."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from tessera.core import subject_tags
from tessera.core.context import Context
from tessera.core.desk_addresses import desk_addresses
from tessera.core.errors import TesseraError
from tessera.core.models import (
    Attachment,
    OutboxMessage,
    Queue,
    Ticket,
    Transaction,
    User,
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
    """What the gateway reads about a message before it writes, in one round trip
    (`fast_sql.gateway_lookups`): its queue, the same bytes filed already (id, action, ticket),
    the desk's addresses and mail domains, every queue's subject tag, which of the Message-IDs it
    names Tessera sent (and on what ticket), the sender's user and the grants that can apply to
    them, and the tickets it may be about with the roles the sender holds on each."""

    earlier: tuple[int, str, int | None] | None
    own: set[str]
    domains: set[str]
    tags: list[str]
    sent: dict[str, int]
    queue: Queue | None = None
    sender_key: str | None = None  # the address the sender was looked up by (lower-cased)
    sender: User | None = None
    grants: list[tuple[str, str, str | None, int | None]] | None = None
    stored: dict[str, int] | None = None
    tickets: dict[int, Ticket] | None = None
    roles: dict[int, set[str]] | None = None

    def ticket(self, ctx: Context, ticket_id: int) -> Ticket | None:
        """The ticket `ticket_id`, merges followed, as `get_ticket(..., check=False)` reads it
        (None: no such ticket): from what was read with the lookups, else read now."""
        found = self.tickets or {}
        seen: set[int] = set()
        at = ticket_id
        while (ticket := found.get(at)) is not None:
            if ticket.merged_into_id is None or ticket.merged_into_id in seen:
                return ticket
            seen.add(ticket.id)
            at = ticket.merged_into_id
        try:
            return get_ticket(ctx, ticket_id, check=False)
        except TesseraError:
            return None


def _refs(parsed: ParsedMail) -> list[str]:
    refs = [*parsed.in_reply_to, *reversed(parsed.references)]
    return list(dict.fromkeys(r[:998] for r in refs))[:60]


def _own_id(parsed: ParsedMail) -> list[str]:
    return [parsed.message_id[:998]] if parsed.message_id else []


def candidate_tickets(parsed: ParsedMail) -> list[int]:
    """The ticket numbers a message may name without a database read: the desk's own and named
    tag in its subject (a queue's own tag is known only once the queues are read) and the
    pseudo-references `<tessera-ticket-N@domain>` (whatever the domain: checked later)."""
    found: list[int] = []
    match = subject_tags.find(parsed.subject, compose.desk_name(), [])
    if match:
        found.append(int(match.group(1)))
    for ref in _refs(parsed):
        if pseudo := _TICKET_REF.match(ref):
            found.append(int(pseudo.group(1)))
    return list(dict.fromkeys(found))


def lookups(
    session: Session, parsed: ParsedMail, raw: bytes, queue: str, sender_key: str | None = None
) -> Lookups:
    """`Lookups` for a message received through the queue named (or numbered) `queue`, from
    `sender_key` (its sender's lower-cased address, None: none to look up)."""
    from tessera.core import fast_sql

    refs = _refs(parsed)
    read = fast_sql.gateway_lookups(
        session,
        queue=queue,
        sender=sender_key,
        message_id=parsed.message_id[:998] if parsed.message_id else None,
        raw=raw,
        ids=[*_own_id(parsed), *refs],
        refs=refs,
        tickets=candidate_tickets(parsed),
    )
    own = desk_addresses(session, read.addresses)
    found_earlier = read.earlier
    sender = fast_sql.persistent(session, User, read.sender) if read.sender is not None else None
    tickets: dict[int, Ticket] = {}
    roles: dict[int, set[str]] = {}
    for ticket_row, queue_row, owner_row, held in read.tickets:
        ticket = fast_sql.persistent(session, Ticket, ticket_row)
        set_committed_value(ticket, "queue", fast_sql.persistent(session, Queue, queue_row))
        owner = fast_sql.persistent(session, User, owner_row) if owner_row is not None else None
        set_committed_value(ticket, "owner", owner)
        tickets[ticket.id] = ticket
        roles[ticket.id] = set(held) | (
            {"Owner"} if sender is not None and ticket.owner_id == sender.id else set()
        )
    return Lookups(
        earlier=(found_earlier[0], found_earlier[1], found_earlier[2]) if found_earlier else None,
        own=own,
        domains={a.rsplit("@", 1)[1] for a in own if "@" in a},
        tags=[tag for tag in read.tags if tag],
        sent={mid: tid for mid, tid in read.sent if tid is not None},
        queue=fast_sql.persistent(session, Queue, read.queue) if read.queue is not None else None,
        sender_key=sender_key,
        sender=sender,
        grants=[(g[0], g[1], g[2], g[3]) for g in read.grants],
        stored={mid: tid for mid, tid in read.stored if mid is not None},
        tickets=tickets,
        roles=roles,
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
        if known is not None:
            return known.ticket(ctx, ticket_id)
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
        if known is not None and known.stored is not None:
            found = known.stored
        else:
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

"""Mail for the gateway tests: a message as a customer's client writes it, delivered, and what it left."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select

from tessera.core.models import OutboxMessage, Transaction, User, Watcher
from tessera.mail.gateway import Settings, deliver


def mail(
    subject: str = "Printer on fire",
    sender: str = "Carla Customer <carla@customer.example>",
    body: str = "It is on fire.",
    **headers: str,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = headers.pop("to", "help@desk.example")
    msg["Subject"] = subject
    msg["Message-ID"] = headers.pop("message_id", make_msgid(domain="customer.example"))
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def go(desk, raw: bytes, action: str = "correspond", **settings):
    return deliver(desk.session, raw, "General", action, Settings(**settings))


def transactions(desk, ticket_id: int) -> list[Transaction]:
    return list(
        desk.session.scalars(
            select(Transaction).where(Transaction.ticket_id == ticket_id).order_by(Transaction.id)
        )
    )


def watchers(desk, ticket_id: int, role: str) -> list[str]:
    return sorted(
        desk.session.scalars(
            select(User.email).join(Watcher, Watcher.user_id == User.id)
            .where(Watcher.ticket_id == ticket_id, Watcher.role == role)
        )
    )  # fmt: skip


def outbox_for(desk, ticket_id: int) -> list[OutboxMessage]:
    return list(
        desk.session.scalars(
            select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id).order_by(OutboxMessage.id)
        )
    )


def autoreply_desk(database, tickets: int, subject: str = "waiting") -> list[str]:
    """A desk with `tickets` tickets, each with one autoreply in the outbox (the other default
    scrips off): the autoreplies' Message-IDs."""
    from tessera.core.models import Scrip
    from tests.support.desks import make_desk

    with database.session() as session:
        desk = make_desk(session)
        for scrip in session.scalars(select(Scrip)):
            scrip.enabled = scrip.action == "AutoReply"
        session.commit()
        for i in range(tickets):
            desk.ticket(subject=f"{subject} {i:03d}", requestors=[f"r{i}@customer.example"])
        return [m.message_id for m in desk.outbox()]

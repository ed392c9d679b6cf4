"""Tickets, their people, links, transactions and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    ForeignKey,
    Identity,
    Index,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tessera.core.ids import display_id
from tessera.core.models.base import Base, created_column
from tessera.core.models.people import Group, User
from tessera.core.models.queue import Queue


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_queue_status_updated", "queue_id", "status", "updated"),
        Index("ix_tickets_owner_status", "owner_id", "status"),
        Index("ix_tickets_updated", "updated"),
        Index("ix_tickets_merged_into_id", "merged_into_id"),
        Index("ix_tickets_search_vector", "search_vector", postgresql_using="gin"),
        Index("ix_tickets_queue_priority", "queue_id", "priority", "id"),
        Index("ix_tickets_created", "created"),
        # A queue's page in the default orders (keyset paging), without walking other queues' rows.
        Index("ix_tickets_queue_updated", "queue_id", "updated", "id"),
        Index("ix_tickets_queue_created", "queue_id", "created", "id"),
        # Deadlines: `Due < 'now'`, what is due next (service levels keep Due current).
        Index("ix_tickets_due", "due", postgresql_where=text("due IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    subject: Mapped[str] = mapped_column(String(200), server_default="")
    status: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    priority: Mapped[int] = mapped_column(server_default=text("0"))
    initial_priority: Mapped[int] = mapped_column(server_default=text("0"))
    final_priority: Mapped[int] = mapped_column(server_default=text("0"))
    time_worked: Mapped[int] = mapped_column(server_default=text("0"))
    time_estimated: Mapped[int] = mapped_column(server_default=text("0"))
    time_left: Mapped[int] = mapped_column(server_default=text("0"))
    due: Mapped[datetime | None]
    # The service level (RT's SLA): a level name of the service-level file, or none.
    sla: Mapped[str | None] = mapped_column(String(64))
    starts: Mapped[datetime | None]
    started: Mapped[datetime | None]
    resolved: Mapped[datetime | None]
    told: Mapped[datetime | None]
    created: Mapped[datetime] = created_column()
    updated: Mapped[datetime] = created_column()
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    # Optimistic concurrency: each operation that changes the ticket bumps it once (under a row
    # lock); a change based on an older version is refused.
    version: Mapped[int] = mapped_column(server_default=text("1"))
    # The first requestor (least address, or name), for queue pages: kept by triggers on watchers
    # and users (migration 0011); never written here, so deferred (locked reads skip it).
    requestor: Mapped[str | None] = mapped_column(String(320), deferred=True)
    # Full text over the subject, kept current by PostgreSQL itself in the same transaction.
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed("to_tsvector('english'::regconfig, (subject)::text)", persisted=True),
        deferred=True,
    )

    queue: Mapped[Queue] = relationship(lazy="joined", innerjoin=True)
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id], lazy="joined")

    @property
    def display_id(self) -> str:
        return display_id(self.id)

    def __repr__(self) -> str:
        return f"<Ticket {self.display_id}>"


class Watcher(Base):
    """A person in a ticket role: Requestor, Cc or AdminCc (the Owner is a column)."""

    __tablename__ = "watchers"
    __table_args__ = (Index("ix_watchers_user_id_role", "user_id", "role"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class GroupWatcher(Base):
    """A group in a ticket role (Cc or AdminCc), as RT allows: its members receive that role's
    mail, expanded when the mail is made, and `AdminCc.Name = 'group'` finds the ticket."""

    __tablename__ = "group_watchers"
    __table_args__ = (Index("ix_group_watchers_group_id", "group_id"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)

    group: Mapped[Group] = relationship(lazy="joined", innerjoin=True)


class TicketSquelch(Base):
    """An address no scrip mails about this ticket until it is unsquelched (RT's SquelchMailTo).
    Kept lower-case: addresses compare without case."""

    __tablename__ = "ticket_squelches"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)


class Link(Base):
    """`base --type--> target`: DependsOn, RefersTo or MemberOf between local tickets."""

    __tablename__ = "links"
    __table_args__ = (
        CheckConstraint("base_id <> target_id", name="not_self"),
        Index("ix_links_target_id_type", "target_id", "type"),
    )

    base_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    created: Mapped[datetime] = created_column()


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (Index("ix_transactions_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    type: Mapped[str] = mapped_column(String(32))
    field: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created: Mapped[datetime] = created_column()
    data: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))

    actor: Mapped[User | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<Transaction {self.id} {self.type} on {self.ticket_id}>"


class Attachment(Base):
    """One node of a message's MIME tree (RT's Attachments): the root is the message itself.

    Text parts keep decoded `content`; anything else keeps its bytes in `binary_content`.
    """

    __tablename__ = "attachments"
    __table_args__ = (
        Index("ix_attachments_transaction_id", "transaction_id"),
        Index("ix_attachments_message_id", "message_id"),
        Index("ix_attachments_search_vector", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("transactions.id", ondelete="CASCADE"), type_=BigInteger
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("attachments.id", ondelete="CASCADE"), type_=BigInteger
    )
    message_id: Mapped[str | None] = mapped_column(String(998))
    subject: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(String(1024))
    content_type: Mapped[str] = mapped_column(String(255), server_default="text/plain")
    headers: Mapped[str] = mapped_column(Text, server_default="")
    content: Mapped[str | None] = mapped_column(Text)
    binary_content: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(server_default=text("0"))
    created: Mapped[datetime] = created_column()
    # Full text over text parts (the first 100,000 characters: tsvector has a size limit).
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            "to_tsvector('english'::regconfig, \"left\"(COALESCE(content, ''::text), 100000))", persisted=True
        ),
        deferred=True,
    )

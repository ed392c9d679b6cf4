"""Inbound mail: every message the gateway received, kept raw, with what was done with it and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base, created_column
from tessera.core.models.scrips import OutboxMessage


class InboundMail(Base):
    """One received message: raw bytes (unless over the size limit), outcome and reason.

    `action` is create, correspond, comment or dropped; `ticket_id`/`transaction_id` point at
    what the message became. Dropped messages (robots, loops, no originator, no right) stay here.
    """

    __tablename__ = "inbound_mail"
    __table_args__ = (
        Index("ix_inbound_mail_message_id", "message_id"),
        Index("ix_inbound_mail_ticket_id", "ticket_id"),
        Index("ix_inbound_mail_received", "received"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    received: Mapped[datetime] = created_column()
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    requested_action: Mapped[str] = mapped_column(String(64), server_default="correspond")  # a chain
    action: Mapped[str] = mapped_column(String(16))
    classification: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, server_default="")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("transactions.id", ondelete="SET NULL"), type_=BigInteger
    )
    message_id: Mapped[str | None] = mapped_column(String(998))
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    data: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))


# Threading looks up the Message-IDs Tessera sent: an index on the outbox's column (owned by the
# scrip engine's table, declared here so that the mail gateway's migration creates it).
Index("ix_outbox_message_id", OutboxMessage.message_id)

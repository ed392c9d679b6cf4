"""What the HTTP API keeps in the database: bearer tokens, idempotent replies, intake dedup keys.

Nothing the API needs lives in a process's memory, so any number of API processes can serve one
desk side by side.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Identity, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base, created_column


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (
        Index("uq_api_tokens_digest", "digest", unique=True),
        Index("ix_api_tokens_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # SHA-256 of the token: the token itself is shown once and never stored.
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The first characters of the token (`tsr_AbCd`), so a person can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), server_default="")
    created: Mapped[datetime] = created_column()
    expires: Mapped[datetime | None]
    last_used: Mapped[datetime | None]
    revoked: Mapped[datetime | None]


class IdempotentReply(Base):
    """The first reply to a POST carrying an `Idempotency-Key`, replayed to its retries."""

    __tablename__ = "api_idempotency"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    # method + path + SHA-256 of the body: a key reused for another request is refused (422).
    fingerprint: Mapped[str] = mapped_column(String(600))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]]
    created: Mapped[datetime] = created_column()


class TicketDedupKey(Base):
    """An intake's `dedup_key` (an alert's fingerprint), on the ticket it opened."""

    __tablename__ = "ticket_dedup_keys"
    __table_args__ = (Index("ix_ticket_dedup_keys_queue_id_key", "queue_id", "key"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))

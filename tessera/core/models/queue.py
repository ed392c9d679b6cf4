"""Queues: where tickets live, each with its addresses, its lifecycle and its own watchers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base, created_column


class Queue(Base):
    __tablename__ = "queues"
    __table_args__ = (Index("uq_queues_name_lower", func.lower(text("name")), unique=True),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, server_default="")
    correspond_address: Mapped[str | None] = mapped_column(String(320))
    comment_address: Mapped[str | None] = mapped_column(String(320))
    lifecycle: Mapped[str] = mapped_column(String(64), server_default="default")
    # RT's per-queue SubjectTag: its mail is tagged `[<tag> #N]` and the gateway knows the tag.
    subject_tag: Mapped[str | None] = mapped_column(String(120))
    disabled: Mapped[bool] = mapped_column(server_default=text("false"))
    created: Mapped[datetime] = created_column()

    def __repr__(self) -> str:
        return f"<Queue {self.name}>"


class QueueWatcher(Base):
    """Queue-level Cc and AdminCc: added to every ticket's notifications, as in RT."""

    __tablename__ = "queue_watchers"

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class QueueGroupWatcher(Base):
    """A group as a queue's Cc or AdminCc: its members are added to every ticket's notifications."""

    __tablename__ = "queue_group_watchers"
    __table_args__ = (Index("ix_queue_group_watchers_group_id", "group_id"),)

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)

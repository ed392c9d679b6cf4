"""When each agent last looked at each ticket: the TUI's "updated since you looked" markers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base


class TicketSeen(Base):
    __tablename__ = "ticket_seen"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    seen_at: Mapped[datetime]


class TicketBookmark(Base):
    """A ticket a user bookmarked (RT's per-user Bookmarks): TicketSQL's `id = '__Bookmarked__'`."""

    __tablename__ = "ticket_bookmarks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    created: Mapped[datetime]

"""Saved searches: a user's own, or shared with every agent; the TUI offers them as views."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base, created_column


class SavedSearch(Base):
    __tablename__ = "saved_searches"
    __table_args__ = (
        Index(
            "uq_saved_searches_owner_name",
            func.coalesce(text("owner_id"), 0),
            func.lower(text("name")),
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # NULL: shared with everyone on the desk.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    query: Mapped[str] = mapped_column(Text)
    order_by: Mapped[str] = mapped_column(Text, server_default="")
    created: Mapped[datetime] = created_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

"""Saved searches: a user's own, or shared with every agent; the TUI offers them as views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Identity, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import TSVECTOR
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


class TicketSearch(Base):
    """A ticket's words for full text, kept by triggers (migrations 0027-0029), never written here.

    `all_doc`: the words of its current subject and of every message part now on it, and each
    pair of words adjacent within one of them ('printer network'); `public_doc`: the same without
    its comments'. Stripped of positions; rebuilt when the subject changes, transactions move (a
    merge) or a part changes. The search finds candidates here; one word or a two-word phrase is
    decided here, other queries (a longer phrase, `and`: one part must hold them all) are checked
    part by part on the candidates, which must hold the phrase's pairs. `overflow`: the distinct
    words passed tsvector's 1 MB limit; the documents are left empty and the ticket is always a
    candidate, checked part by part.
    """

    __tablename__ = "ticket_search"
    __table_args__ = (
        Index("ix_ticket_search_public_doc", "public_doc", postgresql_using="gin"),
        Index("ix_ticket_search_all_doc", "all_doc", postgresql_using="gin"),
        Index("ix_ticket_search_overflow", "ticket_id", postgresql_where=text("overflow")),
    )

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    public_doc: Mapped[Any] = mapped_column(TSVECTOR, server_default=text("''::tsvector"))
    all_doc: Mapped[Any] = mapped_column(TSVECTOR, server_default=text("''::tsvector"))
    overflow: Mapped[bool] = mapped_column(server_default=text("false"))

"""Reminders: a note on a ticket with an owner and a due date (RT's reminders).

RT stores a reminder as a ticket of type `reminder` linked RefersTo its ticket, bound by ticket
transitions (its PR #259). Tessera keeps them as their own small rows (rt-semantics §10.21): a
reminder has a subject, an owner, a due date and a status taken from the ticket's lifecycle
defaults (`reminder_on_open`, `reminder_on_resolve`); its changes are transactions on its ticket
(AddReminder, OpenReminder, ResolveReminder), as in RT.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tessera.core.models.base import Base, created_column
from tessera.core.models.people import User


class Reminder(Base):
    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_ticket_id", "ticket_id"),
        Index("ix_reminders_owner_id_status", "owner_id", "status"),
        # Timers: the open reminders that fall due (ReminderDue), without reading the rest.
        Index("ix_reminders_due", "due", postgresql_where=text("due IS NOT NULL AND resolved IS NULL")),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = created_column()
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved: Mapped[datetime | None]

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id], lazy="joined")

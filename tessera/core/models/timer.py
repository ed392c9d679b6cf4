"""The record of timer firings: a timer (a scrip with a time condition) fires at most once per
ticket per deadline, and this table is what says it already did (its unique key), so a restarted
worker, or a second one beside it, never fires it again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base, created_column


class TimerFiring(Base):
    """One firing: `scrip_id` fired on `ticket_id` for the deadline `deadline` (the moment its
    clock counts from or to: the Due that passed, the last agent touch, the status change, the
    reminder's due) and `item` (a reminder's id; 0 for the ticket itself)."""

    __tablename__ = "timer_firings"
    __table_args__ = (UniqueConstraint("scrip_id", "ticket_id", "item", "deadline"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scrip_id: Mapped[int] = mapped_column(ForeignKey("scrips.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    item: Mapped[int] = mapped_column(server_default=text("0"))
    deadline: Mapped[datetime]
    fired: Mapped[datetime] = created_column()

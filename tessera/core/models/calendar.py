"""Business calendars are data: stored as their validated definition, one row per name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base, created_column


class CalendarRecord(Base):
    __tablename__ = "calendars"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict[str, Any]]
    updated: Mapped[datetime] = created_column()
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

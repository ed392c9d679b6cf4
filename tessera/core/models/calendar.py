"""Business calendars and service levels are data: stored as their validated definitions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base, created_column


class CalendarRecord(Base):
    __tablename__ = "calendars"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict[str, Any]]
    updated: Mapped[datetime] = created_column()
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ServiceLevelsRecord(Base):
    """The desk's service-level file (levels and queue defaults): one row, `id` 1."""

    __tablename__ = "service_levels"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    definition: Mapped[dict[str, Any]]
    updated: Mapped[datetime] = created_column()
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

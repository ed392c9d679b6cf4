"""Custom fields: typed, global or per queue, with allowed values and an optional pattern."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tessera.core.models.base import Base, created_column


class CustomField(Base):
    __tablename__ = "custom_fields"
    __table_args__ = (
        # One name per scope: a global field and a queue field may not share a name.
        Index("uq_custom_fields_name_lower", func.lower(text("name")), unique=True),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, server_default="")
    # freeform | select | integer | date
    type: Mapped[str] = mapped_column(String(16))
    multiple: Mapped[bool] = mapped_column(server_default=text("false"))
    pattern: Mapped[str | None] = mapped_column(Text)
    # NULL: applies to every queue.
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))
    disabled: Mapped[bool] = mapped_column(server_default=text("false"))
    created: Mapped[datetime] = created_column()

    options: Mapped[list[CustomFieldOption]] = relationship(
        order_by="CustomFieldOption.sort_order", cascade="all, delete-orphan", lazy="selectin"
    )


class CustomFieldOption(Base):
    """An allowed value of a select field."""

    __tablename__ = "custom_field_options"

    custom_field_id: Mapped[int] = mapped_column(
        ForeignKey("custom_fields.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    sort_order: Mapped[int] = mapped_column(server_default=text("0"))


class CustomFieldValue(Base):
    """A ticket's value for a field; a multiple-value field has one row per value."""

    __tablename__ = "custom_field_values"
    __table_args__ = (
        Index(
            "uq_custom_field_values_ticket_field_value", "ticket_id", "custom_field_id", "value", unique=True
        ),
        # Searches compare values without regard to case.
        Index("ix_custom_field_values_field_lower_value", "custom_field_id", func.lower(text("value"))),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    custom_field_id: Mapped[int] = mapped_column(ForeignKey("custom_fields.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(Text)

"""A webhook scrip's signing secret: the receiver checks each POST's HMAC with it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base, created_column


class WebhookSecret(Base):
    __tablename__ = "webhook_secrets"

    scrip_id: Mapped[int] = mapped_column(ForeignKey("scrips.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = created_column()

"""Every save of a scrip or a template is a revision: who, when, what changed, and the whole state.

`before` and `after` are the object as `tessera scrip export` prints it (no ids), so a diff of two
revisions is a diff of what an admin reads, and reverting writes back exactly what was exported.
`after` is NULL for a deletion, `before` for a creation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base, created_column


class ScripRevision(Base):
    __tablename__ = "scrip_revisions"
    __table_args__ = (
        Index("ix_scrip_revisions_scrip_id_id", "scrip_id", "id"),
        Index("ix_scrip_revisions_template_id_id", "template_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # "scrip" or "template"
    kind: Mapped[str] = mapped_column(String(16))
    # No foreign keys: the history of a deleted scrip or template stays readable and revertible.
    scrip_id: Mapped[int | None]
    template_id: Mapped[int | None]
    # The scrip's description or the template's name when saved (kept after a deletion).
    name: Mapped[str] = mapped_column(String(300))
    # create, update, delete, enable, disable, reorder, revert, apply
    change: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text, server_default="")
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(200), server_default="")
    created: Mapped[datetime] = created_column()

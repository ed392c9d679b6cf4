"""Access control entries: a right granted to a user, a group or a role, on a queue or globally."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Identity, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base


class Grant(Base):
    __tablename__ = "grants"
    __table_args__ = (
        CheckConstraint(
            "(principal_kind = 'user' AND user_id IS NOT NULL AND group_id IS NULL AND role IS NULL)"
            " OR (principal_kind = 'group' AND group_id IS NOT NULL AND user_id IS NULL AND role IS NULL)"
            " OR (principal_kind = 'role' AND role IS NOT NULL AND user_id IS NULL AND group_id IS NULL)",
            name="one_principal",
        ),
        Index(
            "uq_grants_principal_right_queue",
            "right_name",
            "principal_kind",
            func.coalesce(text("user_id"), -1),
            func.coalesce(text("group_id"), -1),
            func.coalesce(text("role"), ""),
            func.coalesce(text("queue_id"), -1),
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    right_name: Mapped[str] = mapped_column(String(32))
    principal_kind: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    role: Mapped[str | None] = mapped_column(String(16))
    # NULL: granted globally, on every queue.
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))

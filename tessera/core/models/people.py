"""People: privileged agents and unprivileged requestors, and the groups they belong to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Identity, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base, created_column


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # RT compares addresses without regard to case; so does the unique index.
        Index("uq_users_email_lower", func.lower(text("email")), unique=True),
        Index("uq_users_name_lower", func.lower(text("name")), unique=True),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    real_name: Mapped[str | None] = mapped_column(String(200))
    privileged: Mapped[bool] = mapped_column(server_default=text("false"))
    disabled: Mapped[bool] = mapped_column(server_default=text("false"))
    preferences: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    created: Mapped[datetime] = created_column()

    def __repr__(self) -> str:
        return f"<User {self.name}>"


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (Index("uq_groups_name_lower", func.lower(text("name")), unique=True),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, server_default="")
    created: Mapped[datetime] = created_column()


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_user_id", "user_id"),)

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)

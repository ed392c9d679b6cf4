"""SSH public keys: how `tessera ssh-server` knows which Tessera user is connecting."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base, created_column


class SshKey(Base):
    __tablename__ = "ssh_keys"
    __table_args__ = (
        # One key opens one account: the fingerprint alone decides who is logging in.
        Index("uq_ssh_keys_fingerprint", "fingerprint", unique=True),
        Index("ix_ssh_keys_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # SHA256:<base64 without padding>, as `ssh-keygen -l` prints it.
    fingerprint: Mapped[str] = mapped_column(String(100))
    key_type: Mapped[str] = mapped_column(String(100))
    # The key in OpenSSH one-line form, without its comment: "ssh-ed25519 AAAA...".
    public_key: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(String(500), server_default="")
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created: Mapped[datetime] = created_column()
    last_used: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<SshKey {self.fingerprint} user={self.user_id}>"

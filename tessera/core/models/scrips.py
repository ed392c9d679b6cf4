"""Scrips, their templates, the trace of every scrip run, and the outbox of mail to deliver."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.models.base import Base, created_column


class ScripTemplate(Base):
    """Global (queue_id NULL) or per queue; a queue's template shadows the global one of that name."""

    __tablename__ = "scrip_templates"
    __table_args__ = (
        Index(
            "uq_scrip_templates_name_queue", text("lower(name)"), text("coalesce(queue_id, 0)"), unique=True
        ),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))
    description: Mapped[str] = mapped_column(Text, server_default="")
    content: Mapped[str] = mapped_column(Text, server_default="")
    # RT's template types: 'jinja' (sandboxed logic; RT's Perl) or 'simple' (RT's Simple: only
    # `{$Name}` placeholders, for admins who should not write logic).
    type: Mapped[str] = mapped_column(String(16), server_default="jinja")
    updated: Mapped[datetime] = created_column()


class Scrip(Base):
    """Condition + action (+ template), global or per queue, at a stage, in one shared order."""

    __tablename__ = "scrips"
    __table_args__ = (Index("ix_scrips_stage_sort_order", "stage", "sort_order"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    description: Mapped[str] = mapped_column(String(300))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(32), server_default="TransactionCreate")
    sort_order: Mapped[int] = mapped_column(server_default=text("0"))
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    condition: Mapped[str | None] = mapped_column(String(100))
    condition_argument: Mapped[str] = mapped_column(Text, server_default="")
    condition_expression: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(100))
    action_argument: Mapped[str] = mapped_column(Text, server_default="")
    template: Mapped[str | None] = mapped_column(String(200))
    updated: Mapped[datetime] = created_column()


class ScripRun(Base):
    """The trace: one row per scrip considered for a transaction, and what became of it."""

    __tablename__ = "scrip_runs"
    __table_args__ = (
        Index("ix_scrip_runs_ticket_id_id", "ticket_id", "id"),
        Index("ix_scrip_runs_scrip_id_id", "scrip_id", "id"),
        Index("ix_scrip_runs_transaction_id", "transaction_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scrip_id: Mapped[int | None] = mapped_column(ForeignKey("scrips.id", ondelete="SET NULL"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("transactions.id", ondelete="CASCADE"), type_=BigInteger
    )
    stage: Mapped[str] = mapped_column(String(32))
    depth: Mapped[int] = mapped_column(server_default=text("0"))
    fired: Mapped[bool] = mapped_column(server_default=text("false"))
    outcome: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, server_default="")
    created: Mapped[datetime] = created_column()


class OutboxMessage(Base):
    """A rendered message waiting for `tessera worker`; written in the change's own transaction.

    `status`: pending, sending (claimed by the worker whose backend is `claimed_by`, committed before
    the SMTP transaction starts), sent (every recipient accepted), failed (done, and at least one
    recipient refused). `delivery` holds each tried recipient's outcome, by address (see
    `tessera.core.outgoing`); a recipient not in it has not been tried yet."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "next_attempt", "id", postgresql_where=text("status = 'pending'")),
        Index("ix_outbox_in_flight", "id", postgresql_where=text("status = 'sending'")),
        Index("ix_outbox_failed", "id", postgresql_where=text("status = 'failed'")),
        Index("ix_outbox_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("transactions.id", ondelete="SET NULL"), type_=BigInteger
    )
    scrip_id: Mapped[int | None] = mapped_column(ForeignKey("scrips.id", ondelete="SET NULL"))
    message_id: Mapped[str] = mapped_column(String(998))
    mail_from: Mapped[str] = mapped_column(String(320))
    recipients: Mapped[list[str]] = mapped_column(JSONB)
    summary: Mapped[dict[str, Any]]
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    next_attempt: Mapped[datetime] = created_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = created_column()
    sent_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[int | None]  # the claiming worker's backend (pg_backend_pid)
    delivery: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))


def trace_for_transactions(session: Any, transaction_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The scrip trace of each transaction (for a ticket's history), oldest run first."""
    from sqlalchemy import select

    if not transaction_ids:
        return {}
    # Columns, not objects: a transaction has a run per scrip considered (17 on a new desk).
    rows = session.execute(
        select(
            ScripRun.transaction_id,
            ScripRun.id,
            ScripRun.scrip_id,
            Scrip.description,
            ScripRun.stage,
            ScripRun.depth,
            ScripRun.fired,
            ScripRun.outcome,
            ScripRun.reason,
        )
        .outerjoin(Scrip, Scrip.id == ScripRun.scrip_id)
        .where(ScripRun.transaction_id.in_(transaction_ids))
        .order_by(ScripRun.id)
    ).all()
    keys = ("run", "scrip", "description", "stage", "depth", "fired", "outcome", "reason")
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(dict(zip(keys, row[1:], strict=True)))
    return out


class ScripCatalogToken(Base):
    """One row; triggers on scrips, templates and queues give it a new random token on every change,
    so a process knows whether its parsed catalog still holds by reading one value."""

    __tablename__ = "scrip_catalog_token"
    __table_args__ = (CheckConstraint("id = 1", name="ck_scrip_catalog_token_one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default=text("1"))
    token: Mapped[uuid.UUID] = mapped_column(UUID, server_default=text("gen_random_uuid()"))

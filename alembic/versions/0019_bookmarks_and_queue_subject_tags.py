"""ticket bookmarks (per user), per-queue subject tags, and room for RT's chained mail actions

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 18:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_bookmarks",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_bookmarks_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ticket_bookmarks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "ticket_id", name=op.f("pk_ticket_bookmarks")),
    )
    op.add_column("queues", sa.Column("subject_tag", sa.String(length=120), nullable=True))
    op.alter_column("inbound_mail", "requested_action", type_=sa.String(length=64))


def downgrade() -> None:
    op.execute("UPDATE inbound_mail SET requested_action = left(requested_action, 16)")
    op.alter_column("inbound_mail", "requested_action", type_=sa.String(length=16))
    op.drop_column("queues", "subject_tag")
    op.drop_table("ticket_bookmarks")

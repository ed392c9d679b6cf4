"""outbox in flight: a message is marked sending (by whom, since when) before its SMTP transaction

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox", sa.Column("claimed_by", sa.Integer(), nullable=True))
    op.create_index(
        "ix_outbox_in_flight", "outbox", ["id"], unique=False, postgresql_where=sa.text("status = 'sending'")
    )


def downgrade() -> None:
    op.execute("UPDATE outbox SET status = 'pending' WHERE status = 'sending'")
    op.drop_index("ix_outbox_in_flight", table_name="outbox", postgresql_where=sa.text("status = 'sending'"))
    op.drop_column("outbox", "claimed_by")
    op.drop_column("outbox", "claimed_at")

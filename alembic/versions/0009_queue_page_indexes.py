"""queue page indexes: a queue's tickets by last update and by creation, for keyset paging

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 15:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tickets_queue_updated", "tickets", ["queue_id", "updated", "id"], unique=False)
    op.create_index("ix_tickets_queue_created", "tickets", ["queue_id", "created", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tickets_queue_created", table_name="tickets")
    op.drop_index("ix_tickets_queue_updated", table_name="tickets")

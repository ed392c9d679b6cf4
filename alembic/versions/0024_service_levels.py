"""Service levels: the desk's service-level file, each ticket's level (SLA), an index on Due

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_levels",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_service_levels_one_row")),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_service_levels_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_levels")),
    )
    op.add_column("tickets", sa.Column("sla", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_tickets_due", "tickets", ["due"], unique=False, postgresql_where=sa.text("due IS NOT NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_due", table_name="tickets", postgresql_where=sa.text("due IS NOT NULL"))
    op.drop_column("tickets", "sla")
    op.drop_table("service_levels")

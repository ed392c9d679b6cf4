"""reminders on tickets (owner, due date, status from the lifecycle's reminder defaults) and RT's
Simple templates beside Jinja ones (scrip_templates.type)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("resolved", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_reminders_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_reminders_owner_id_users")),
        sa.ForeignKeyConstraint(["creator_id"], ["users.id"], name=op.f("fk_reminders_creator_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
    )
    op.create_index("ix_reminders_ticket_id", "reminders", ["ticket_id"])
    op.create_index("ix_reminders_owner_id_status", "reminders", ["owner_id", "status"])
    op.add_column(
        "scrip_templates", sa.Column("type", sa.String(length=16), server_default="jinja", nullable=False)
    )
    # Processes holding the scrip catalog read it again (its templates now carry their type).
    op.execute("UPDATE scrip_catalog_token SET token = gen_random_uuid()")


def downgrade() -> None:
    op.drop_column("scrip_templates", "type")
    op.drop_index("ix_reminders_owner_id_status", table_name="reminders")
    op.drop_index("ix_reminders_ticket_id", table_name="reminders")
    op.drop_table("reminders")

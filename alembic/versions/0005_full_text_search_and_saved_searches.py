"""full text search, saved searches, search indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 12:02:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("order_by", sa.Text(), server_default="", nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_saved_searches_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_saved_searches_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_searches")),
    )
    op.create_index(
        "uq_saved_searches_owner_name",
        "saved_searches",
        [sa.literal_column("coalesce(owner_id, 0)"), sa.literal_column("lower(name)")],
        unique=True,
    )
    op.add_column(
        "attachments",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('english'::regconfig, \"left\"(COALESCE(content, ''::text), 100000))",
                persisted=True,
            ),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_attachments_search_vector", "attachments", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.add_column(
        "tickets",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english'::regconfig, (subject)::text)", persisted=True),
            nullable=False,
        ),
    )
    op.create_index("ix_tickets_created", "tickets", ["created"], unique=False)
    op.create_index("ix_tickets_queue_priority", "tickets", ["queue_id", "priority", "id"], unique=False)
    op.create_index(
        "ix_tickets_search_vector", "tickets", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.drop_index("ix_custom_field_values_field_value", table_name="custom_field_values")
    op.create_index(
        "ix_custom_field_values_field_lower_value",
        "custom_field_values",
        ["custom_field_id", sa.literal_column("lower(value)")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_custom_field_values_field_lower_value", table_name="custom_field_values")
    op.create_index(
        "ix_custom_field_values_field_value",
        "custom_field_values",
        ["custom_field_id", "value"],
        unique=False,
    )
    op.drop_index("ix_tickets_search_vector", table_name="tickets", postgresql_using="gin")
    op.drop_index("ix_tickets_queue_priority", table_name="tickets")
    op.drop_index("ix_tickets_created", table_name="tickets")
    op.drop_column("tickets", "search_vector")
    op.drop_index("ix_attachments_search_vector", table_name="attachments", postgresql_using="gin")
    op.drop_column("attachments", "search_vector")
    op.drop_index("uq_saved_searches_owner_name", table_name="saved_searches")
    op.drop_table("saved_searches")

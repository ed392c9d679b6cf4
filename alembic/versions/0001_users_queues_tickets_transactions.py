"""users, queues, tickets, transactions

Revision ID: 0001
Revises:
Create Date: 2026-11-27 11:22:23.075238
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queues",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("correspond_address", sa.String(length=320), nullable=True),
        sa.Column("comment_address", sa.String(length=320), nullable=True),
        sa.Column("lifecycle", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queues")),
    )
    op.create_index("uq_queues_name_lower", "queues", [sa.literal_column("lower(name)")], unique=True)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("real_name", sa.String(length=200), nullable=True),
        sa.Column("privileged", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "preferences",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index("uq_users_email_lower", "users", [sa.literal_column("lower(email)")], unique=True)
    op.create_index("uq_users_name_lower", "users", [sa.literal_column("lower(name)")], unique=True)
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), server_default="", nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("initial_priority", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("final_priority", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("time_worked", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("time_estimated", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("time_left", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("starts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved", sa.DateTime(timezone=True), nullable=True),
        sa.Column("told", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.ForeignKeyConstraint(["creator_id"], ["users.id"], name=op.f("fk_tickets_creator_id_users")),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["tickets.id"], name=op.f("fk_tickets_merged_into_id_tickets")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_tickets_owner_id_users")),
        sa.ForeignKeyConstraint(["queue_id"], ["queues.id"], name=op.f("fk_tickets_queue_id_queues")),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], name=op.f("fk_tickets_updated_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index("ix_tickets_merged_into_id", "tickets", ["merged_into_id"], unique=False)
    op.create_index("ix_tickets_owner_status", "tickets", ["owner_id", "status"], unique=False)
    op.create_index(
        "ix_tickets_queue_status_updated", "tickets", ["queue_id", "status", "updated"], unique=False
    )
    op.create_index("ix_tickets_updated", "tickets", ["updated"], unique=False)
    op.create_table(
        "transactions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_transactions_actor_id_users")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_transactions_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
    )
    op.create_index("ix_transactions_ticket_id_id", "transactions", ["ticket_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_transactions_ticket_id_id", table_name="transactions")
    op.drop_table("transactions")
    op.drop_index("ix_tickets_updated", table_name="tickets")
    op.drop_index("ix_tickets_queue_status_updated", table_name="tickets")
    op.drop_index("ix_tickets_owner_status", table_name="tickets")
    op.drop_index("ix_tickets_merged_into_id", table_name="tickets")
    op.drop_table("tickets")
    op.drop_index("uq_users_name_lower", table_name="users")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_table("users")
    op.drop_index("uq_queues_name_lower", table_name="queues")
    op.drop_table("queues")

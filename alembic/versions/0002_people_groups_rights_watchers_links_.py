"""people, groups, rights, watchers, links, messages, custom fields, lifecycles

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 11:28:45.863280
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
    )
    op.create_index("uq_groups_name_lower", "groups", [sa.literal_column("lower(name)")], unique=True)
    op.create_table(
        "custom_fields",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("multiple", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("pattern", sa.Text(), nullable=True),
        sa.Column("queue_id", sa.Integer(), nullable=True),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queues.id"], name=op.f("fk_custom_fields_queue_id_queues"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_fields")),
    )
    op.create_index(
        "uq_custom_fields_name_lower", "custom_fields", [sa.literal_column("lower(name)")], unique=True
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("right_name", sa.String(length=32), nullable=False),
        sa.Column("principal_kind", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("queue_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(principal_kind = 'user' AND user_id IS NOT NULL AND group_id IS NULL AND role IS NULL) OR (principal_kind = 'group' AND group_id IS NOT NULL AND user_id IS NULL AND role IS NULL) OR (principal_kind = 'role' AND role IS NOT NULL AND user_id IS NULL AND group_id IS NULL)",
            name=op.f("ck_grants_one_principal"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_grants_group_id_groups"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queues.id"], name=op.f("fk_grants_queue_id_queues"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_grants_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
    )
    op.create_index(
        "uq_grants_principal_right_queue",
        "grants",
        [
            "right_name",
            "principal_kind",
            sa.literal_column("coalesce(user_id, -1)"),
            sa.literal_column("coalesce(group_id, -1)"),
            sa.literal_column("coalesce(role, '')"),
            sa.literal_column("coalesce(queue_id, -1)"),
        ],
        unique=True,
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_members_group_id_groups"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_group_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_members")),
    )
    op.create_index("ix_group_members_user_id", "group_members", ["user_id"], unique=False)
    op.create_table(
        "lifecycles",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_lifecycles_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_lifecycles")),
    )
    op.create_table(
        "queue_watchers",
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queues.id"], name=op.f("fk_queue_watchers_queue_id_queues"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_queue_watchers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("queue_id", "role", "user_id", name=op.f("pk_queue_watchers")),
    )
    op.create_table(
        "custom_field_options",
        sa.Column("custom_field_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("sort_order", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["custom_field_id"],
            ["custom_fields.id"],
            name=op.f("fk_custom_field_options_custom_field_id_custom_fields"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("custom_field_id", "value", name=op.f("pk_custom_field_options")),
    )
    op.create_table(
        "custom_field_values",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("custom_field_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["custom_field_id"],
            ["custom_fields.id"],
            name=op.f("fk_custom_field_values_custom_field_id_custom_fields"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_custom_field_values_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_field_values")),
    )
    op.create_index(
        "ix_custom_field_values_field_value",
        "custom_field_values",
        ["custom_field_id", "value"],
        unique=False,
    )
    op.create_index(
        "uq_custom_field_values_ticket_field_value",
        "custom_field_values",
        ["ticket_id", "custom_field_id", "value"],
        unique=True,
    )
    op.create_table(
        "links",
        sa.Column("base_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("base_id <> target_id", name=op.f("ck_links_not_self")),
        sa.ForeignKeyConstraint(["base_id"], ["tickets.id"], name=op.f("fk_links_base_id_tickets")),
        sa.ForeignKeyConstraint(["target_id"], ["tickets.id"], name=op.f("fk_links_target_id_tickets")),
        sa.PrimaryKeyConstraint("base_id", "type", "target_id", name=op.f("pk_links")),
    )
    op.create_index("ix_links_target_id_type", "links", ["target_id", "type"], unique=False)
    op.create_table(
        "watchers",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_watchers_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_watchers_user_id_users")),
        sa.PrimaryKeyConstraint("ticket_id", "role", "user_id", name=op.f("pk_watchers")),
    )
    op.create_index("ix_watchers_user_id_role", "watchers", ["user_id", "role"], unique=False)
    op.create_table(
        "attachments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("filename", sa.String(length=1024), nullable=True),
        sa.Column("content_type", sa.String(length=255), server_default="text/plain", nullable=False),
        sa.Column("headers", sa.Text(), server_default="", nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("binary_content", sa.LargeBinary(), nullable=True),
        sa.Column("size", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["attachments.id"],
            name=op.f("fk_attachments_parent_id_attachments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_attachments_transaction_id_transactions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index("ix_attachments_message_id", "attachments", ["message_id"], unique=False)
    op.create_index("ix_attachments_transaction_id", "attachments", ["transaction_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_attachments_transaction_id", table_name="attachments")
    op.drop_index("ix_attachments_message_id", table_name="attachments")
    op.drop_table("attachments")
    op.drop_index("ix_watchers_user_id_role", table_name="watchers")
    op.drop_table("watchers")
    op.drop_index("ix_links_target_id_type", table_name="links")
    op.drop_table("links")
    op.drop_index("uq_custom_field_values_ticket_field_value", table_name="custom_field_values")
    op.drop_index("ix_custom_field_values_field_value", table_name="custom_field_values")
    op.drop_table("custom_field_values")
    op.drop_table("custom_field_options")
    op.drop_table("queue_watchers")
    op.drop_table("lifecycles")
    op.drop_index("ix_group_members_user_id", table_name="group_members")
    op.drop_table("group_members")
    op.drop_index("uq_grants_principal_right_queue", table_name="grants")
    op.drop_table("grants")
    op.drop_index("uq_custom_fields_name_lower", table_name="custom_fields")
    op.drop_table("custom_fields")
    op.drop_index("uq_groups_name_lower", table_name="groups")
    op.drop_table("groups")

"""groups as watchers: a group in a ticket's or a queue's Cc/AdminCc role (as RT allows)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table, owner, owner_table in (
        ("group_watchers", "ticket_id", "tickets"),
        ("queue_group_watchers", "queue_id", "queues"),
    ):
        op.create_table(
            table,
            sa.Column(owner, sa.Integer(), nullable=False),
            sa.Column("role", sa.String(length=16), nullable=False),
            sa.Column("group_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                [owner],
                [f"{owner_table}.id"],
                name=op.f(f"fk_{table}_{owner}_{owner_table}"),
                ondelete="CASCADE",
            ),
            sa.ForeignKeyConstraint(
                ["group_id"], ["groups.id"], name=op.f(f"fk_{table}_group_id_groups"), ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint(owner, "role", "group_id", name=op.f(f"pk_{table}")),
        )
        op.create_index(op.f(f"ix_{table}_group_id"), table, ["group_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_queue_group_watchers_group_id"), table_name="queue_group_watchers")
    op.drop_table("queue_group_watchers")
    op.drop_index(op.f("ix_group_watchers_group_id"), table_name="group_watchers")
    op.drop_table("group_watchers")

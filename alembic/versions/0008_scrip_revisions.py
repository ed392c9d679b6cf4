"""scrip revisions

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 14:11:52.869538
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scrip_revisions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scrip_id", sa.Integer(), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_scrip_revisions_actor_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scrip_revisions")),
    )
    op.create_index("ix_scrip_revisions_scrip_id_id", "scrip_revisions", ["scrip_id", "id"], unique=False)
    op.create_index(
        "ix_scrip_revisions_template_id_id", "scrip_revisions", ["template_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_scrip_revisions_template_id_id", table_name="scrip_revisions")
    op.drop_index("ix_scrip_revisions_scrip_id_id", table_name="scrip_revisions")
    op.drop_table("scrip_revisions")

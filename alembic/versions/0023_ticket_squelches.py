"""squelching for the ticket: addresses no scrip mails about a ticket (RT's SquelchMailTo)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 21:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_squelches",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_squelches_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", "address", name=op.f("pk_ticket_squelches")),
    )


def downgrade() -> None:
    op.drop_table("ticket_squelches")

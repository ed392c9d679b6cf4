"""RT's two SLA scrips ([SLA] Set starts date, [SLA] Set due date: Blank template), which keep a
ticket's Starts and Due from its service level, on a desk seeded before this revision

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 22:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As tessera.core.default_scrips.DEFAULT_SCRIPS has them.
_SCRIPS = [
    ("[SLA] Set starts date", "SLARequireStartsSet", "SLASetStarts"),
    ("[SLA] Set due date", "SLARequireDueSet", "SLASetDue"),
]


def upgrade() -> None:
    # A new desk gets them from its seed (nothing written here: no global template yet). A seeded
    # desk gets them now, enabled, after its other scrips, unless it has one of that description;
    # the Blank template comes back if an admin deleted it (the actions use no template).
    op.execute(
        sa.text(
            """
            INSERT INTO scrip_templates (name, queue_id, description, content)
            SELECT 'Blank', NULL, '', ''
             WHERE EXISTS (SELECT 1 FROM scrip_templates WHERE queue_id IS NULL)
               AND NOT EXISTS (SELECT 1 FROM scrip_templates
                                WHERE queue_id IS NULL AND lower(name) = 'blank')
            """
        )
    )
    for description, condition, action in _SCRIPS:
        op.execute(
            sa.text(
                """
                INSERT INTO scrips (description, queue_id, stage, sort_order, enabled, condition,
                                    condition_argument, action, action_argument, template)
                SELECT :description, NULL, 'TransactionCreate',
                       (SELECT coalesce(max(sort_order), 0) + 10 FROM scrips), true, :condition,
                       '', :action, '', 'Blank'
                 WHERE EXISTS (SELECT 1 FROM scrip_templates WHERE queue_id IS NULL)
                   AND NOT EXISTS (SELECT 1 FROM scrips WHERE lower(description) = lower(:description))
                """
            ).bindparams(description=description, condition=condition, action=action)
        )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM scrips WHERE action IN ('SLASetStarts', 'SLASetDue')"))

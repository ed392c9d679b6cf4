"""RT's default scrips that came later: Notify Other Recipients (on create, correspond, and comment
as comment) and Extract Subject Tag, on a desk seeded before this revision

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As tessera.core.default_scrips.DEFAULT_SCRIPS had them when this migration was written, in RT's order.
_SCRIPS = [
    ("On Comment Notify Other Recipients as Comment", "OnComment", "NotifyAsComment", "OtherRecipients", "Correspondence"),
    ("On Correspond Notify Other Recipients", "OnCorrespond", "Notify", "OtherRecipients", "Correspondence"),
    ("On Create Notify Other Recipients", "OnCreate", "Notify", "OtherRecipients", "Correspondence"),
    ("On Transaction Extract Subject Tag", "OnTransaction", "ExtractSubjectTag", "", "Blank"),
]  # fmt: skip


def upgrade() -> None:
    # A new desk gets these from its seed (which runs only on a desk with no global template: so
    # nothing is written here then); a seeded desk gets each now, after its other scrips, unless
    # it has one of that description or lacks the template (an admin's deletion stands).
    for description, condition, action, argument, template in _SCRIPS:
        op.execute(
            sa.text(
                """
                INSERT INTO scrips (description, queue_id, stage, sort_order, enabled, condition,
                                    condition_argument, action, action_argument, template)
                SELECT :description, NULL, 'TransactionCreate',
                       (SELECT coalesce(max(sort_order), 0) + 10 FROM scrips), true, :condition,
                       '', :action, :argument, :template
                 WHERE EXISTS (SELECT 1 FROM scrip_templates WHERE queue_id IS NULL AND name = :template)
                   AND NOT EXISTS (SELECT 1 FROM scrips WHERE lower(description) = lower(:description))
                """
            ).bindparams(
                description=description,
                condition=condition,
                action=action,
                argument=argument,
                template=template,
            )
        )


def downgrade() -> None:
    for description, _condition, action, _argument, _template in _SCRIPS:
        op.execute(
            sa.text("DELETE FROM scrips WHERE description = :description AND action = :action").bindparams(
                description=description, action=action
            )
        )

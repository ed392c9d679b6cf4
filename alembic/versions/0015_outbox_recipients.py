"""outbox per recipient: each recipient's delivery (accepted, refused, deferred); the disabled
"On Delivery Failure Notify Owner" scrip and its template on a desk seeded before this

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEMPLATE = "Delivery Failure"
_SCRIP = "On Delivery Failure Notify Owner"
# As tessera.core.default_scrips.DELIVERY_FAILURE_TEMPLATE was when this migration was written.
_CONTENT = """Subject: Undelivered mail: {{ ticket.subject }}

Mail about {{ ticket.display_id }} ("{{ ticket.subject }}") was refused by the mail server
for these recipients, who did not get it:

{% for r in transaction.data.refused %}    {{ r.address }}: {{ r.reply }}
{% endfor %}
Fix the address and run `tessera mail retry {{ transaction.data.outbox }}`, or reach them another way.
"""


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column(
            "delivery",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_outbox_failed", "outbox", ["id"], unique=False, postgresql_where=sa.text("status = 'failed'")
    )
    # A new desk gets these from its seed (which runs only on a desk with no global template: so
    # nothing is written here then); a seeded desk gets them now, the scrip disabled.
    op.execute(
        sa.text(
            """
            INSERT INTO scrip_templates (name, queue_id, description, content)
            SELECT :name, NULL, '', :content
             WHERE EXISTS (SELECT 1 FROM scrip_templates WHERE queue_id IS NULL)
               AND NOT EXISTS (SELECT 1 FROM scrip_templates
                                WHERE queue_id IS NULL AND lower(name) = lower(:name))
            """
        ).bindparams(name=_TEMPLATE, content=_CONTENT)
    )
    op.execute(
        sa.text(
            """
            INSERT INTO scrips (description, queue_id, stage, sort_order, enabled, condition,
                                condition_argument, action, action_argument, template)
            SELECT :description, NULL, 'TransactionCreate',
                   (SELECT coalesce(max(sort_order), 0) + 10 FROM scrips), false, 'OnDeliveryFailure',
                   '', 'Notify', 'Owner', :template
             WHERE EXISTS (SELECT 1 FROM scrip_templates WHERE queue_id IS NULL AND name = :template)
               AND NOT EXISTS (SELECT 1 FROM scrips WHERE condition = 'OnDeliveryFailure')
            """
        ).bindparams(description=_SCRIP, template=_TEMPLATE)
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM scrips WHERE condition = 'OnDeliveryFailure'"))
    op.drop_index("ix_outbox_failed", table_name="outbox", postgresql_where=sa.text("status = 'failed'"))
    op.drop_column("outbox", "delivery")

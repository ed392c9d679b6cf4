"""RT's forward: the Forward and Forward Ticket templates and their two scrips (On Forward
Transaction / On Forward Ticket -> SendForward) on a desk seeded before this revision

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As tessera.core.default_scrips.FORWARD_TEMPLATE was when this migration was written.
_CONTENT = 'Subject: Fwd: {{ ticket.subject }}\n\n{{ transaction.content or "This is a forward of WHAT " ~ ticket.display_id ~ "." }}\n{% for m in transaction.forwarded %}\n\n---------- Forwarded message ----------\nDate: {{ m.date }}\nFrom: {{ m.from }}\nSubject: {{ m.subject }}\n\n{{ m.content }}\n{% endfor %}\n'
_TEMPLATES = {
    "Forward": _CONTENT.replace("WHAT", "a message of"),
    "Forward Ticket": _CONTENT.replace("WHAT", "ticket"),
}
_SCRIPS = [
    ("On Forward Transaction Send Forward", "OnForwardTransaction", "Forward"),
    ("On Forward Ticket Send Forward", "OnForwardTicket", "Forward Ticket"),
]


def upgrade() -> None:
    # A new desk gets these from its seed (which runs only on a desk with no global template: so
    # nothing is written here then); a seeded desk gets them now, after its other scrips, unless
    # it has one of that description (an admin's deletion of a template stands: no scrip then).
    for name, content in _TEMPLATES.items():
        op.execute(
            sa.text(
                """
                INSERT INTO scrip_templates (name, queue_id, description, content)
                SELECT :name, NULL, '', :content
                 WHERE EXISTS (SELECT 1 FROM scrip_templates WHERE queue_id IS NULL)
                   AND NOT EXISTS (SELECT 1 FROM scrip_templates
                                    WHERE queue_id IS NULL AND lower(name) = lower(:name))
                """
            ).bindparams(name=name, content=content)
        )
    for description, condition, template in _SCRIPS:
        op.execute(
            sa.text(
                """
                INSERT INTO scrips (description, queue_id, stage, sort_order, enabled, condition,
                                    condition_argument, action, action_argument, template)
                SELECT :description, NULL, 'TransactionCreate',
                       (SELECT coalesce(max(sort_order), 0) + 10 FROM scrips), true, :condition,
                       '', 'SendForward', '', :template
                 WHERE EXISTS (SELECT 1 FROM scrip_templates WHERE queue_id IS NULL AND name = :template)
                   AND NOT EXISTS (SELECT 1 FROM scrips WHERE lower(description) = lower(:description))
                """
            ).bindparams(description=description, condition=condition, template=template)
        )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM scrips WHERE action = 'SendForward'"))

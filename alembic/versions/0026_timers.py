"""timers: the record of timer firings (once per timer, ticket and deadline), the open reminders'
due index, and the shipped timer scrips and templates (disabled) on a desk seeded before this
revision

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As tessera.core.default_scrips.TIMER_TEMPLATES and TIMER_SCRIPS have them.
_TEMPLATES = {
    "Due Soon": "Subject: Due soon: {{ ticket.subject }}\n"
    "\n"
    "{{ ticket.display_id }} is {{ transaction.data.reason }}.\n"
    "\n"
    "       Ticket {{ ticket.display_id }}: {{ ticket.subject }}\n"
    "        Queue: {{ queue.name }}\n"
    "        Owner: {{ ticket.owner.name }}\n"
    "     Priority: {{ ticket.priority }}\n"
    "       Status: {{ ticket.status }}\n"
    '          Due: {{ ticket.due or "-" }}\n',
    "Overdue": "Subject: Overdue: {{ ticket.subject }}\n"
    "\n"
    "{{ ticket.display_id }} is {{ transaction.data.reason }}.\n"
    "\n"
    "       Ticket {{ ticket.display_id }}: {{ ticket.subject }}\n"
    "        Queue: {{ queue.name }}\n"
    "        Owner: {{ ticket.owner.name }}\n"
    "     Priority: {{ ticket.priority }}\n"
    "       Status: {{ ticket.status }}\n"
    '          Due: {{ ticket.due or "-" }}\n',
    "Reminder Due": "Subject: Reminder: {{ transaction.data.reminder.subject }}\n"
    "\n"
    "A reminder on {{ ticket.display_id }} fell due: {{ transaction.data.reason }}.\n"
    "\n"
    "       Ticket {{ ticket.display_id }}: {{ ticket.subject }}\n"
    "        Queue: {{ queue.name }}\n"
    "        Owner: {{ ticket.owner.name }}\n"
    "     Priority: {{ ticket.priority }}\n"
    "       Status: {{ ticket.status }}\n"
    '          Due: {{ ticket.due or "-" }}\n',
}
_SCRIPS = [
    {
        "description": "[Timer] On Overdue Escalate Priority",
        "condition": "OnOverdue",
        "action": "SetPriority",
        "action_argument": "+10",
        "template": "Blank",
        "enabled": False,
    },
    {
        "description": "[Timer] On Overdue Notify Owner and AdminCcs",
        "condition": "OnOverdue",
        "action": "Notify",
        "action_argument": "Owner,AdminCc",
        "template": "Overdue",
        "enabled": False,
    },
    {
        "description": "[Timer] Due Within 1h Notify Owner and AdminCcs",
        "condition": "DueWithin",
        "condition_argument": "1h",
        "action": "Notify",
        "action_argument": "Owner,AdminCc",
        "template": "Due Soon",
        "enabled": False,
    },
    {
        "description": "[Timer] On Reminder Due Notify Owner",
        "condition": "ReminderDue",
        "action": "Notify",
        "action_argument": "Owner",
        "template": "Reminder Due",
        "enabled": False,
    },
    {
        "description": "[Timer] Close After 7 Days Resolved",
        "condition": "InStatus",
        "condition_argument": "resolved for 7d",
        "action": "SetStatus",
        "action_argument": "closed",
        "template": "Blank",
        "enabled": False,
    },
]


def upgrade() -> None:
    op.create_table(
        "timer_firings",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("scrip_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["scrip_id"], ["scrips.id"], name=op.f("fk_timer_firings_scrip_id_scrips"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_timer_firings_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timer_firings")),
        sa.UniqueConstraint(
            "scrip_id",
            "ticket_id",
            "item",
            "deadline",
            name=op.f("uq_timer_firings_scrip_id_ticket_id_item_deadline"),
        ),
    )
    op.create_index(
        "ix_reminders_due",
        "reminders",
        ["due"],
        postgresql_where=sa.text("due IS NOT NULL AND resolved IS NULL"),
    )
    # The shipped timers (a new desk gets them from its seed: nothing is written here while it has
    # no global template).
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
    for spec in _SCRIPS:
        op.execute(
            sa.text(
                """
                INSERT INTO scrips (description, queue_id, stage, sort_order, enabled, condition,
                                    condition_argument, action, action_argument, template)
                SELECT :description, NULL, 'TransactionCreate',
                       (SELECT coalesce(max(sort_order), 0) + 10 FROM scrips), false, :condition,
                       :condition_argument, :action, :action_argument, :template
                 WHERE EXISTS (SELECT 1 FROM scrip_templates WHERE queue_id IS NULL)
                   AND NOT EXISTS (SELECT 1 FROM scrips WHERE lower(description) = lower(:description))
                """
            ).bindparams(
                description=spec["description"],
                condition=spec["condition"],
                condition_argument=spec.get("condition_argument", ""),
                action=spec["action"],
                action_argument=spec["action_argument"],
                template=spec["template"],
            )
        )


def downgrade() -> None:
    op.execute(
        sa.text(
            "DELETE FROM scrips WHERE condition IN ('OnOverdue', 'DueWithin', 'Untouched', "
            "'InStatus', 'ReminderDue')"
        )
    )
    op.drop_index(
        "ix_reminders_due",
        table_name="reminders",
        postgresql_where=sa.text("due IS NOT NULL AND resolved IS NULL"),
    )
    op.drop_table("timer_firings")

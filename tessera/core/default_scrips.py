"""RT's default scrips and templates (etc/initialdata), as Jinja templates; seeded once.

RT ships 17 global scrips; all 17 are here, in RT's order (the two SLA scrips, which keep a
ticket's Starts and Due, last). Migrations 0016, 0017 and 0025 added the eight that came later to
desks seeded before (as RT's upgrade steps do).

Rows only, written by `bootstrap` on a new desk as it writes the built-in lifecycles (core seeds its
own initial data and imports nothing above it); the engine that runs them is `tessera.scrips`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.core.models import Scrip, ScripTemplate

_SUBJECT = "{{ transaction.subject or ticket.subject }}"

# The owner's notice of a refused recipient (the "On delivery failure" scrip, shipped disabled);
# migration 0015 adds the same template and scrip to a desk seeded before it.
DELIVERY_FAILURE_TEMPLATE = """Subject: Undelivered mail: {{ ticket.subject }}

Mail about {{ ticket.display_id }} ("{{ ticket.subject }}") was refused by the mail server
for these recipients, who did not get it:

{% for r in transaction.data.refused %}    {{ r.address }}: {{ r.reply }}
{% endfor %}
Fix the address and run `tessera mail retry {{ transaction.data.outbox }}`, or reach them another way.
"""

# RT's Forward and Forward Ticket: the agent's note (or a line saying what this is), then each
# forwarded message inline with its date, sender and subject. (RT attaches them as files.)
FORWARD_TEMPLATE = """Subject: Fwd: {{ ticket.subject }}

{{ transaction.content or "This is a forward of WHAT " ~ ticket.display_id ~ "." }}
{% for m in transaction.forwarded %}

---------- Forwarded message ----------
Date: {{ m.date }}
From: {{ m.from }}
Subject: {{ m.subject }}

{{ m.content }}
{% endfor %}
"""

DEFAULT_TEMPLATES: dict[str, str] = {
    "Blank": "",
    "Autoreply": """Subject: AutoReply: {{ ticket.subject }}

Greetings,

This message has been automatically generated in response to the
creation of a ticket regarding:
        "{{ ticket.subject }}",
a summary of which appears below.

There is no need to reply to this message right now.  Your ticket has been
assigned an ID of [{{ ticket.display_id }}].

Please include the string:

         [{{ ticket.display_id }}]

in the subject line of all future correspondence about this issue. To do so,
you may reply to this message.

                        Thank you,
                        {{ queue.description or queue.name }}

-------------------------------------------------------------------------
{{ transaction.content }}
""",
    "Transaction": f"""Subject: {_SUBJECT}

{{{{ transaction.description }}}} by {{{{ actor.real_name }}}}
       Ticket {{{{ ticket.display_id }}}}
        Queue: {{{{ queue.name }}}}
      Subject: {{{{ ticket.subject }}}}
        Owner: {{{{ ticket.owner.name }}}}
   Requestors: {{{{ ticket.requestors | join(", ") }}}}
       Status: {{{{ ticket.status }}}}
-------------------------------------------------------------------------
{{{{ transaction.content }}}}
""",
    "Admin Correspondence": f"""Subject: {_SUBJECT}

{{{{ ticket.display_id }}}}: reply by {{{{ actor.real_name }}}}

{{{{ transaction.content }}}}
""",
    "Correspondence": f"""Subject: {_SUBJECT}

{{{{ transaction.content }}}}
""",
    "Admin Comment": """{% set s = (transaction.subject or ticket.subject).replace("[Comment] ", "") %}
Subject: [Comment] {{ s[4:] if s.lower().startswith("re: ") else s }}

This is a comment.  It is not sent to the Requestor(s):

{{ transaction.content }}
""",
    "Status Change": """Subject: Status Changed to: {{ transaction.new }}

{{ ticket.display_id }} ({{ ticket.subject }}) went from {{ transaction.old }} to {{ transaction.new }}.

{{ transaction.content }}
""",
    "Resolved": """Subject: Resolved: {{ ticket.subject }}

According to our records, your request has been resolved. If you have any
further questions or concerns, please respond to this message.
""",
    "Delivery Failure": DELIVERY_FAILURE_TEMPLATE,
    "Forward": FORWARD_TEMPLATE.replace("WHAT", "a message of"),
    "Forward Ticket": FORWARD_TEMPLATE.replace("WHAT", "ticket"),
}

# Timers (scrips on the clock, rt-crontool's escalations): shipped disabled, as RT ships no cron
# job; migration 0026 adds the same to a desk seeded before it. A firing's transaction (type Timer)
# says why in `transaction.data.reason`.
_TIMER_FACTS = """       Ticket {{ ticket.display_id }}: {{ ticket.subject }}
        Queue: {{ queue.name }}
        Owner: {{ ticket.owner.name }}
     Priority: {{ ticket.priority }}
       Status: {{ ticket.status }}
          Due: {{ ticket.due or "-" }}
"""
TIMER_TEMPLATES: dict[str, str] = {
    "Overdue": "Subject: Overdue: {{ ticket.subject }}\n\n"
    "{{ ticket.display_id }} is {{ transaction.data.reason }}.\n\n" + _TIMER_FACTS,
    "Due Soon": "Subject: Due soon: {{ ticket.subject }}\n\n"
    "{{ ticket.display_id }} is {{ transaction.data.reason }}.\n\n" + _TIMER_FACTS,
    "Reminder Due": "Subject: Reminder: {{ transaction.data.reminder.subject }}\n\n"
    "A reminder on {{ ticket.display_id }} fell due: {{ transaction.data.reason }}.\n\n" + _TIMER_FACTS,
}
DEFAULT_TEMPLATES.update(TIMER_TEMPLATES)

DEFAULT_SCRIPS: list[dict[str, Any]] = [
    {"description": "On Comment Notify AdminCcs as Comment", "condition": "OnComment",
     "action": "NotifyAsComment", "action_argument": "AdminCc", "template": "Admin Comment"},
    {"description": "On Comment Notify Other Recipients as Comment", "condition": "OnComment",
     "action": "NotifyAsComment", "action_argument": "OtherRecipients", "template": "Correspondence"},
    {"description": "On Correspond Notify Owner and AdminCcs", "condition": "OnCorrespond",
     "action": "Notify", "action_argument": "Owner,AdminCc", "template": "Admin Correspondence"},
    {"description": "On Correspond Notify Other Recipients", "condition": "OnCorrespond",
     "action": "Notify", "action_argument": "OtherRecipients", "template": "Correspondence"},
    {"description": "On Correspond Notify Requestors and Ccs", "condition": "OnCorrespond",
     "action": "Notify", "action_argument": "Requestor,Cc", "template": "Correspondence"},
    {"description": "On Correspond Open Inactive Tickets", "condition": "OnCorrespond",
     "action": "OpenInactive", "action_argument": "", "template": "Blank"},
    {"description": "On Create Autoreply To Requestors", "condition": "OnCreate",
     "action": "AutoReply", "action_argument": "", "template": "Autoreply"},
    {"description": "On Create Notify Owner and AdminCcs", "condition": "OnCreate",
     "action": "Notify", "action_argument": "Owner,AdminCc", "template": "Transaction"},
    {"description": "On Create Notify Ccs", "condition": "OnCreate",
     "action": "Notify", "action_argument": "Cc", "template": "Correspondence"},
    {"description": "On Create Notify Other Recipients", "condition": "OnCreate",
     "action": "Notify", "action_argument": "OtherRecipients", "template": "Correspondence"},
    {"description": "On Owner Change Notify Owner", "condition": "OnOwnerChange",
     "action": "Notify", "action_argument": "Owner", "template": "Transaction"},
    {"description": "On Resolve Notify Requestors", "condition": "OnResolve",
     "action": "Notify", "action_argument": "Requestor", "template": "Resolved"},
    {"description": "On Transaction Extract Subject Tag", "condition": "OnTransaction",
     "action": "ExtractSubjectTag", "action_argument": "", "template": "Blank"},
    {"description": "On Forward Transaction Send Forward", "condition": "OnForwardTransaction",
     "action": "SendForward", "action_argument": "", "template": "Forward"},
    {"description": "On Forward Ticket Send Forward", "condition": "OnForwardTicket",
     "action": "SendForward", "action_argument": "", "template": "Forward Ticket"},
    {"description": "[SLA] Set starts date", "condition": "SLARequireStartsSet",
     "action": "SLASetStarts", "action_argument": "", "template": "Blank"},
    {"description": "[SLA] Set due date", "condition": "SLARequireDueSet",
     "action": "SLASetDue", "action_argument": "", "template": "Blank"},
    {"description": "On Delivery Failure Notify Owner", "condition": "OnDeliveryFailure",
     "action": "Notify", "action_argument": "Owner", "template": "Delivery Failure", "enabled": False},
]  # fmt: skip

TIMER_SCRIPS: list[dict[str, Any]] = [
    {"description": "[Timer] On Overdue Escalate Priority", "condition": "OnOverdue",
     "action": "SetPriority", "action_argument": "+10", "template": "Blank", "enabled": False},
    {"description": "[Timer] On Overdue Notify Owner and AdminCcs", "condition": "OnOverdue",
     "action": "Notify", "action_argument": "Owner,AdminCc", "template": "Overdue", "enabled": False},
    {"description": "[Timer] Due Within 1h Notify Owner and AdminCcs", "condition": "DueWithin",
     "condition_argument": "1h", "action": "Notify", "action_argument": "Owner,AdminCc",
     "template": "Due Soon", "enabled": False},
    {"description": "[Timer] On Reminder Due Notify Owner", "condition": "ReminderDue",
     "action": "Notify", "action_argument": "Owner", "template": "Reminder Due", "enabled": False},
    {"description": "[Timer] Close After 7 Days Resolved", "condition": "InStatus",
     "condition_argument": "resolved for 7d", "action": "SetStatus", "action_argument": "closed",
     "template": "Blank", "enabled": False},
]  # fmt: skip


def seed_defaults(session: Session) -> bool:
    """Idempotent and cheap: seeds only a desk that has no global template yet (a fresh one), so
    scrips and templates an admin deleted or changed are never brought back."""
    have = session.scalar(
        select(func.count()).select_from(ScripTemplate).where(ScripTemplate.queue_id.is_(None))
    )
    if have:
        return False
    for name, content in DEFAULT_TEMPLATES.items():
        session.add(ScripTemplate(name=name, queue_id=None, content=content))
    for order, spec in enumerate([*DEFAULT_SCRIPS, *TIMER_SCRIPS], start=1):
        session.add(
            Scrip(
                description=spec["description"],
                queue_id=None,
                stage="TransactionCreate",
                sort_order=order * 10,
                enabled=spec.get("enabled", True),
                condition=spec["condition"],
                condition_argument=spec.get("condition_argument", ""),
                action=spec["action"],
                action_argument=spec["action_argument"],
                template=spec["template"],
            )
        )
    session.flush()
    return True

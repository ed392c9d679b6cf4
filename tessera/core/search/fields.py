"""TicketSQL's fields and operators: the fixed tables names are looked up in (never spliced into
SQL), and the small helpers the compiler's parts share (LIKE patterns, did-you-mean hints)."""

from __future__ import annotations

import difflib
import re
from typing import Any

from sqlalchemy.orm import InstrumentedAttribute

from tessera.core.models import Ticket

INT_FIELDS: dict[str, InstrumentedAttribute[int]] = {
    "priority": Ticket.priority,
    "initialpriority": Ticket.initial_priority,
    "finalpriority": Ticket.final_priority,
    "timeworked": Ticket.time_worked,
    "timeleft": Ticket.time_left,
    "timeestimated": Ticket.time_estimated,
}
DATE_FIELDS: dict[str, InstrumentedAttribute[Any]] = {
    "created": Ticket.created,
    "updated": Ticket.updated,
    "lastupdated": Ticket.updated,
    "resolved": Ticket.resolved,
    "started": Ticket.started,
    "due": Ticket.due,
    "starts": Ticket.starts,
    "told": Ticket.told,
}
PRIORITY_FIELDS = ("priority", "initialpriority", "finalpriority")  # take names (priorities.py)
INT_MAX = 2**31 - 1  # PostgreSQL's integer: ids, priorities, minutes
USER_FIELDS: dict[str, InstrumentedAttribute[Any]] = {
    "owner": Ticket.owner_id,
    "creator": Ticket.creator_id,
    "lastupdatedby": Ticket.updated_by_id,
}
ROLE_FIELDS = {
    "requestor": ("Requestor",),
    "requestors": ("Requestor",),
    "cc": ("Cc",),
    "admincc": ("AdminCc",),
    "watcher": ("Requestor", "Cc", "AdminCc"),
}
ROLE_SUBFIELDS = {"": "address", "emailaddress": "email", "name": "name", "realname": "real_name", "id": "id"}
LINK_FIELDS = {
    "dependson": ("DependsOn", True),
    "dependedonby": ("DependsOn", False),
    "dependenton": ("DependsOn", False),
    "refersto": ("RefersTo", True),
    "referredtoby": ("RefersTo", False),
    "memberof": ("MemberOf", True),
    "parent": ("MemberOf", True),
    "hasmember": ("MemberOf", False),
    "children": ("MemberOf", False),
    "members": ("MemberOf", False),
}
TEXT_FIELDS = {"subject": Ticket.subject, "sla": Ticket.sla}
# The names people type, for suggestions and completion.
FIELD_NAMES = [
    "id",
    "Queue",
    "Status",
    "Lifecycle",
    "Owner",
    "Owner.EmailAddress",
    "Owner.RealName",
    "Creator",
    "LastUpdatedBy",
    "Requestor",
    "Requestor.EmailAddress",
    "Requestor.Name",
    "Requestor.RealName",
    "Cc",
    "AdminCc",
    "Watcher",
    "Subject",
    "SLA",
    "Content",
    "Priority",
    "InitialPriority",
    "FinalPriority",
    "TimeWorked",
    "TimeLeft",
    "TimeEstimated",
    "Created",
    "Updated",
    "LastUpdated",
    "Resolved",
    "Started",
    "Due",
    "Starts",
    "Told",
    "DependsOn",
    "DependedOnBy",
    "RefersTo",
    "ReferredToBy",
    "MemberOf",
    "HasMember",
    "MergedInto",
    "Reminder",
    "Reminder.Subject",
    "Reminder.Owner",
    "Reminder.Due",
    "Reminder.Status",
    "EffectiveId",
]
STRING_OPS = ("=", "!=", "LIKE", "NOT LIKE", "STARTSWITH", "NOT STARTSWITH", "ENDSWITH", "NOT ENDSWITH")
ORDER_OPS = ("=", "!=", "<", "<=", ">", ">=")
NULL_OPS = ("IS", "IS NOT")


INTEGER = re.compile(r"[-+]?[0-9]+")
NO_ONE = -1  # a user id no user has: `Owner = 'ghost'` for a requestor matches nothing


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_pattern(op: str, text: str) -> str:
    core = escape_like(text)
    if op.endswith("STARTSWITH"):
        return core + "%"
    if op.endswith("ENDSWITH"):
        return "%" + core
    return "%" + core + "%"


def suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word.lower(), [o.lower() for o in options], n=1, cutoff=0.6)
    if not close:
        return ""
    original = next(o for o in options if o.lower() == close[0])
    return f" - did you mean {original}?"

"""All mapped classes; importing this module registers every table on `Base.metadata`."""

from tessera.core.ids import display_id
from tessera.core.models.api import ApiToken, IdempotentReply, TicketDedupKey
from tessera.core.models.base import Base
from tessera.core.models.calendar import CalendarRecord, ServiceLevelsRecord
from tessera.core.models.customfield import CustomField, CustomFieldOption, CustomFieldValue
from tessera.core.models.lifecycle import LifecycleRecord
from tessera.core.models.mail import InboundMail
from tessera.core.models.people import Group, GroupMember, User
from tessera.core.models.queue import Queue, QueueGroupWatcher, QueueWatcher
from tessera.core.models.reminder import Reminder
from tessera.core.models.rights import Grant
from tessera.core.models.scrip_revision import ScripRevision
from tessera.core.models.scrips import OutboxMessage, Scrip, ScripCatalogToken, ScripRun, ScripTemplate
from tessera.core.models.search import SavedSearch, TicketSearch
from tessera.core.models.seen import TicketBookmark, TicketSeen
from tessera.core.models.sshkey import SshKey
from tessera.core.models.ticket import (
    Attachment,
    GroupWatcher,
    Link,
    Ticket,
    TicketSquelch,
    Transaction,
    Watcher,
)
from tessera.core.models.timer import TimerFiring
from tessera.core.models.webhook import WebhookSecret

__all__ = [
    "ApiToken",
    "Attachment",
    "Base",
    "CalendarRecord",
    "CustomField",
    "CustomFieldOption",
    "CustomFieldValue",
    "Grant",
    "Group",
    "GroupMember",
    "GroupWatcher",
    "IdempotentReply",
    "InboundMail",
    "LifecycleRecord",
    "Link",
    "OutboxMessage",
    "Queue",
    "QueueGroupWatcher",
    "QueueWatcher",
    "Reminder",
    "SavedSearch",
    "Scrip",
    "ScripCatalogToken",
    "ScripRevision",
    "ScripRun",
    "ScripTemplate",
    "ServiceLevelsRecord",
    "SshKey",
    "Ticket",
    "TicketBookmark",
    "TicketDedupKey",
    "TicketSearch",
    "TicketSeen",
    "TicketSquelch",
    "TimerFiring",
    "Transaction",
    "User",
    "Watcher",
    "WebhookSecret",
    "display_id",
]

"""All mapped classes; importing this module registers every table on `Base.metadata`."""

from tessera.core.models.base import Base
from tessera.core.models.customfield import CustomField, CustomFieldOption, CustomFieldValue
from tessera.core.models.lifecycle import LifecycleRecord
from tessera.core.models.mail import InboundMail
from tessera.core.models.people import Group, GroupMember, User
from tessera.core.models.queue import Queue, QueueWatcher
from tessera.core.models.rights import Grant
from tessera.core.models.scrip_revision import ScripRevision
from tessera.core.models.scrips import OutboxMessage, Scrip, ScripCatalogToken, ScripRun, ScripTemplate
from tessera.core.models.search import SavedSearch
from tessera.core.models.seen import TicketSeen
from tessera.core.models.sshkey import SshKey
from tessera.core.models.ticket import Attachment, Link, Ticket, Transaction, Watcher, display_id

__all__ = [
    "Attachment",
    "Base",
    "CustomField",
    "CustomFieldOption",
    "CustomFieldValue",
    "Grant",
    "Group",
    "GroupMember",
    "InboundMail",
    "LifecycleRecord",
    "Link",
    "OutboxMessage",
    "Queue",
    "QueueWatcher",
    "SavedSearch",
    "Scrip",
    "ScripCatalogToken",
    "ScripRevision",
    "ScripRun",
    "ScripTemplate",
    "SshKey",
    "Ticket",
    "TicketSeen",
    "Transaction",
    "User",
    "Watcher",
    "display_id",
]

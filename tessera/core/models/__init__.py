"""All mapped classes; importing this module registers every table on `Base.metadata`."""

from tessera.core.models.base import Base
from tessera.core.models.people import User
from tessera.core.models.queue import Queue
from tessera.core.models.ticket import Ticket, Transaction, display_id

__all__ = ["Base", "Queue", "Ticket", "Transaction", "User", "display_id"]

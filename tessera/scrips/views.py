"""What templates and expressions see: read-only snapshots, never ORM objects.

A view holds plain values (strings, numbers, lists, dicts). Nothing reachable from a view leads back
to the session, the engine or a mapped class, so the sandbox has nothing to walk to. Watchers,
custom fields and history are loaded on first use only: most conditions never touch them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from functools import cached_property
from typing import Any, Protocol

from sqlalchemy import literal, select, union

from tessera.core import subject_tags
from tessera.core.context import Context
from tessera.core.models import (
    Attachment,
    GroupMember,
    GroupWatcher,
    Queue,
    QueueGroupWatcher,
    QueueWatcher,
    Ticket,
    Transaction,
    User,
    Watcher,
)

MESSAGE_TYPES = ("Create", "Correspond", "Comment", "Forward Transaction", "Forward Ticket")
# What a Forward Ticket sends on: the ticket's public conversation (comments stay inside).
PUBLIC_MESSAGE_TYPES = ("Create", "Correspond")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class UserView:
    __slots__ = ("email", "id", "name", "privileged", "real_name")

    def __init__(self, user: User | None) -> None:
        self.id = user.id if user else None
        self.name = user.name if user else "Nobody"
        self.email = user.email if user else None
        self.real_name = (user.real_name or user.name) if user else "Nobody"
        self.privileged = bool(user.privileged) if user else False

    def __str__(self) -> str:
        return self.real_name or self.name

    def __bool__(self) -> bool:
        return self.id is not None


class QueueView:
    __slots__ = (
        "comment_address",
        "correspond_address",
        "description",
        "id",
        "lifecycle",
        "name",
        "subject_tag",
    )

    def __init__(self, queue: Queue) -> None:
        self.id = queue.id
        self.name = queue.name
        self.description = queue.description
        self.correspond_address = queue.correspond_address
        self.comment_address = queue.comment_address
        self.subject_tag = queue.subject_tag  # RT's per-queue SubjectTag (None: the desk's)
        self.lifecycle = queue.lifecycle

    def __str__(self) -> str:
        return self.name


class MessagePart(Protocol):
    """What a view reads of one node of a message: an `Attachment`, or the engine's prefetched
    `scrip_context.Part`."""

    @property
    def message_id(self) -> str | None: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def headers(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def content(self) -> str | None: ...
    @property
    def filename(self) -> str | None: ...


class MessageView:
    """The message a transaction carries (the root of its MIME tree and its text body)."""

    def __init__(self, parts: Sequence[MessagePart]) -> None:
        root = parts[0] if parts else None
        body = next((p for p in parts if p.content is not None and not p.filename), None)
        self.message_id: str | None = root.message_id if root else None
        self.subject: str | None = root.subject if root else None
        self.headers: str = root.headers if root else ""
        self.content: str = body.content if body and body.content else ""
        self.content_type: str = body.content_type if body else "text/plain"
        self.attachments: list[str] = [p.filename for p in parts if p.filename]

    def header(self, name: str) -> str | None:
        wanted = name.lower() + ":"
        value = None
        for line in self.headers.splitlines():
            if line.lower().startswith(wanted):
                value = line.split(":", 1)[1].strip()
            elif value is not None and line[:1] in (" ", "\t"):
                value += " " + line.strip()
            elif value is not None:
                break
        return value


class TransactionView:
    def __init__(self, ctx: Context, txn: Transaction, parts: Sequence[MessagePart] | None = None) -> None:
        self._ctx = ctx
        self._txn_id = txn.id
        self._ticket_id = txn.ticket_id
        self._parts = parts
        self.id = txn.id
        self.type = txn.type
        self.field = txn.field
        self.old = txn.old_value
        self.new = txn.new_value
        self.data: dict[str, Any] = dict(txn.data or {})
        self.created = _iso(txn.created)
        self.actor = UserView(txn.actor)
        self.time_taken = int(self.data.get("time_taken") or 0)

    @cached_property
    def message(self) -> MessageView:
        parts = self._parts
        if parts is None and self.type not in MESSAGE_TYPES:
            parts = []  # only these transaction types carry a message (core's store_message)
        if parts is None:
            parts = list(
                self._ctx.session.scalars(
                    select(Attachment)
                    .where(Attachment.transaction_id == self._txn_id)
                    .order_by(Attachment.id)
                )
            )
        return MessageView(parts)

    @property
    def content(self) -> str:
        return self.message.content

    @cached_property
    def forwarded(self) -> list[dict[str, str]]:
        """What a forward sends on, oldest first: the message a Forward Transaction names, or every
        public message of the ticket for a Forward Ticket; empty for any other transaction."""
        if self.type == "Forward Transaction":
            wanted = select(Transaction).where(Transaction.id == self.data.get("forwarded"))
        elif self.type == "Forward Ticket":
            wanted = select(Transaction).where(
                Transaction.ticket_id == self._ticket_id, Transaction.type.in_(PUBLIC_MESSAGE_TYPES)
            )
        else:
            return []
        out = []
        for txn in self._ctx.session.scalars(wanted.order_by(Transaction.id)):
            view = TransactionView(self._ctx, txn)
            who = txn.actor
            if who is None:
                sender = "(unknown)"
            elif who.real_name and who.email:
                sender = f"{who.real_name} <{who.email}>"
            else:
                sender = who.email or who.name
            out.append(
                {
                    "date": format_datetime(txn.created),
                    "from": sender,
                    "subject": view.subject or "",
                    "content": view.content,
                }
            )
        return out

    @property
    def subject(self) -> str | None:
        return self.message.subject

    @property
    def message_id(self) -> str | None:
        return self.message.message_id

    @property
    def description(self) -> str:
        """One line for people, as in RT's BriefDescription."""
        if self.type == "Create":
            return "Ticket created"
        if self.type in ("Correspond", "Comment"):
            return f"{self.type} added"
        if self.field:
            return f"{self.field} changed from {self.old or '(none)'} to {self.new or '(none)'}"
        return self.type


class TicketView:
    def __init__(self, ctx: Context, ticket: Ticket) -> None:
        self._ctx = ctx
        self._ticket = ticket
        self.id = ticket.id
        self.display_id = ticket.display_id
        self.subject = ticket.subject
        self.status = ticket.status
        self.priority = ticket.priority
        self.initial_priority = ticket.initial_priority
        self.final_priority = ticket.final_priority
        self.time_worked = ticket.time_worked
        self.time_estimated = ticket.time_estimated
        self.time_left = ticket.time_left
        self.created = _iso(ticket.created)
        self.updated = _iso(ticket.updated)
        self.started = _iso(ticket.started)
        self.resolved = _iso(ticket.resolved)
        self.due = _iso(ticket.due)
        self.starts = _iso(ticket.starts)
        self.told = _iso(ticket.told)
        self.queue = QueueView(ticket.queue)
        self.owner = UserView(ticket.owner)
        # RT's $Ticket->SubjectTag: `[Acme Help #42]` with the queue's tag, else `[TKT-0042]`.
        self.subject_tag = f"[{subject_tags.written(ticket.queue.subject_tag, ticket.id)}]"

    @cached_property
    def _all_people(self) -> dict[str, dict[str, list[User]]]:
        """The ticket's watchers and the queue's, in one query."""
        mine = select(literal("ticket").label("source"), Watcher.role, Watcher.user_id).where(
            Watcher.ticket_id == self.id
        )
        queue = select(literal("queue"), QueueWatcher.role, QueueWatcher.user_id).where(
            QueueWatcher.queue_id == self.queue.id
        )
        # A group in a role: its members, expanded now (as RT does when it sends).
        my_groups = (
            select(literal("ticket"), GroupWatcher.role, GroupMember.user_id)
            .join(GroupMember, GroupMember.group_id == GroupWatcher.group_id)
            .where(GroupWatcher.ticket_id == self.id)
        )
        queue_groups = (
            select(literal("queue"), QueueGroupWatcher.role, GroupMember.user_id)
            .join(GroupMember, GroupMember.group_id == QueueGroupWatcher.group_id)
            .where(QueueGroupWatcher.queue_id == self.queue.id)
        )
        both = union(mine, queue, my_groups, queue_groups).subquery()  # a person once per role
        out: dict[str, dict[str, list[User]]] = {
            "ticket": {"Requestor": [], "Cc": [], "AdminCc": []},
            "queue": {"Cc": [], "AdminCc": []},
        }
        with self._ctx.session.no_autoflush:
            rows = self._ctx.session.execute(
                select(both.c.source, both.c.role, User)
                .join(User, User.id == both.c.user_id)
                .order_by(both.c.source, both.c.role, User.id)
            ).all()
        for source, role, user in rows:
            out[source].setdefault(role, []).append(user)
        return out

    def _prefetched(
        self, people: dict[str, list[Any]], queue_people: dict[str, list[Any]], squelched: set[str] | None
    ) -> None:
        """Watchers (and the ticket's squelch list) the engine already loaded with the unit's data."""
        self.__dict__["_all_people"] = {"ticket": people, "queue": queue_people}
        if squelched is not None:
            self.__dict__["_squelched"] = frozenset(squelched)

    @cached_property
    def _squelched(self) -> frozenset[str]:
        """RT's SquelchMailTo: the addresses no scrip mails about this ticket (lower-case)."""
        from tessera.core.models import TicketSquelch

        with self._ctx.session.no_autoflush:
            return frozenset(
                self._ctx.session.scalars(
                    select(TicketSquelch.address).where(TicketSquelch.ticket_id == self.id)
                )
            )

    @property
    def _people(self) -> dict[str, list[User]]:
        return self._all_people["ticket"]

    @property
    def _queue_people(self) -> dict[str, list[User]]:
        return self._all_people["queue"]

    def _role_users(self, role: str) -> list[User]:
        """ORM users for the engine (not exposed to templates: views only hold plain values)."""
        return list(self._people.get(role, []))

    def _queue_users(self, role: str) -> list[User]:
        return list(self._queue_people.get(role, []))

    @property
    def requestors(self) -> list[str]:
        return [u.email or u.name for u in self._people["Requestor"]]

    @property
    def cc(self) -> list[str]:
        return [u.email or u.name for u in self._people["Cc"]]

    @property
    def admincc(self) -> list[str]:
        return [u.email or u.name for u in self._people["AdminCc"]]

    @property
    def requestor(self) -> str:
        """The first requestor's name, as RT's $Requestor."""
        people = self._people["Requestor"]
        return (people[0].real_name or people[0].name) if people else ""

    @cached_property
    def custom_fields(self) -> dict[str, Any]:
        from tessera.core.serialize import custom_fields_of

        return custom_fields_of(self._ctx, self._ticket)

    def __str__(self) -> str:
        return f"{self.display_id}: {self.subject}"

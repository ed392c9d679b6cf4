"""RT's rights model: rights granted to users, groups and roles, on a queue or globally.

A user has a right on a ticket when it is granted, on the ticket's queue or globally, to the user,
to a group the user is in, to a system role (Everyone; Privileged for agents) or to a ticket role
the user holds on that ticket (Requestor, Cc, AdminCc, Owner). SuperUser implies every right.
Disabled users have none. Rights are read once per operation (as RT caches them for an update).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tessera.core.errors import InvalidInput, PermissionDenied

if TYPE_CHECKING:  # imported by the functions that query: the TUI's start-up helper does without
    from sqlalchemy.orm import Session

    from tessera.core.models import Ticket, User

# The grants that can apply to user `%(user)s` (psycopg), as `RightsCache.load` reads them.
GRANTS_SQL = (
    "SELECT right_name, principal_kind, role, queue_id FROM grants"
    " WHERE user_id = %(user)s"
    " OR group_id IN (SELECT group_id FROM group_members WHERE user_id = %(user)s)"
    " OR principal_kind = 'role'"
)

QUEUE_RIGHTS: tuple[str, ...] = (
    "SeeQueue",
    "ShowTicket",
    "CreateTicket",
    "ModifyTicket",
    "DeleteTicket",
    "ReplyToTicket",
    "CommentOnTicket",
    "ShowTicketComments",
    "ForwardMessage",
    "OwnTicket",
    "TakeTicket",
    "StealTicket",
    "ReassignTicket",
    "Watch",
    "WatchAsAdminCc",
    "ModifyQueueWatchers",
    "SeeCustomField",
    "ModifyCustomField",
    "ModifyScrips",
    "ShowScrips",
    "ModifyTemplate",
    "ShowTemplate",
    "AdminQueue",
    # Tessera's: resolve past unresolved dependencies (RT's Force, which RT gives only to code).
    "ForceStatus",
)
GLOBAL_RIGHTS: tuple[str, ...] = (
    "SuperUser",
    "AdminUsers",
    "AdminGroups",
    "AdminCustomField",
    "AdminLifecycles",
    # Tessera's: apply business calendars and service levels (`tessera calendar|sla apply`).
    "AdminServiceLevels",
    # Tessera's: create tickets and transactions with past times and other actors (`tessera import`).
    "Import",
)
ALL_RIGHTS: tuple[str, ...] = QUEUE_RIGHTS + GLOBAL_RIGHTS

TICKET_ROLES: tuple[str, ...] = ("Requestor", "Cc", "AdminCc", "Owner")
SYSTEM_ROLES: tuple[str, ...] = ("Everyone", "Privileged", "Unprivileged")
ALL_ROLES: tuple[str, ...] = TICKET_ROLES + SYSTEM_ROLES


def canonical_right(name: str, extra: tuple[str, ...] | list[str] = ()) -> str:
    """`modifyticket` -> `ModifyTicket`; unknown names are refused with a suggestion.

    `extra` are rights that lifecycles name (RT registers those so they can be granted)."""
    known: tuple[str, ...] = (*ALL_RIGHTS, *extra)
    by_lower = {r.lower(): r for r in known}
    found = by_lower.get(name.strip().lower())
    if found is None:
        import difflib

        close = difflib.get_close_matches(name, known, n=1)
        hint = f" - did you mean {close[0]}?" if close else ""
        raise InvalidInput(f"unknown right {name!r}{hint}")
    return found


def canonical_role(name: str) -> str:
    by_lower = {r.lower(): r for r in ALL_ROLES}
    aliases = {"requestors": "Requestor", "ccs": "Cc", "adminccs": "AdminCc"}
    found = by_lower.get(name.strip().lower()) or aliases.get(name.strip().lower())
    if found is None:
        raise InvalidInput(f"unknown role {name!r} (roles: {', '.join(ALL_ROLES)})")
    return found


@dataclass
class RightsCache:
    """The grants that can apply to one user, loaded once; role grants are resolved per ticket."""

    user: User
    superuser: bool = False
    # queue_id (None = global) -> rights granted to the user directly, via groups or system roles
    direct: dict[int | None, set[str]] = field(default_factory=lambda: defaultdict(set))
    # queue_id -> role -> rights
    by_role: dict[int | None, dict[str, set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    _ticket_roles: dict[int, set[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, user: User) -> RightsCache:
        from sqlalchemy import or_, select

        from tessera.core.models import Grant, GroupMember

        if user.disabled:
            return cls(user=user)
        group_ids = select(GroupMember.group_id).where(GroupMember.user_id == user.id)
        rows = session.execute(
            select(Grant.right_name, Grant.principal_kind, Grant.role, Grant.queue_id).where(
                or_(
                    Grant.user_id == user.id,
                    Grant.group_id.in_(group_ids),
                    Grant.principal_kind == "role",
                )
            )
        ).all()
        return cls.from_grants(user, rows)

    @classmethod
    def from_grants(cls, user: Any, rows: Iterable[tuple[str, str, str | None, int | None]]) -> RightsCache:
        """The cache for `user` (a User, or anything with its `id`, `privileged` and `disabled`)
        from its grant rows: (right, principal kind, role, queue id)."""
        cache = cls(user=user)
        if user.disabled:
            return cache
        system_roles = ["Everyone", "Privileged" if user.privileged else "Unprivileged"]
        for right, kind, role, queue_id in rows:
            if kind == "role" and role is not None and role not in system_roles:  # (never None: a check)
                cache.by_role[queue_id][role].add(right)
            else:
                cache.direct[queue_id].add(right)
        cache.superuser = "SuperUser" in cache.direct[None]
        return cache

    def for_user(self, user: Any) -> RightsCache:
        """The same grants for `user` (the same user, as loaded in another session), with its own
        per-ticket role cache (roles change with every ticket's owner and watchers)."""
        return RightsCache(user=user, superuser=self.superuser, direct=self.direct, by_role=self.by_role)

    def roles_on(self, session: Session, ticket: Ticket) -> set[str]:
        cached = self._ticket_roles.get(ticket.id)
        if cached is not None:
            return cached
        from sqlalchemy import select

        from tessera.core.models import GroupMember, GroupWatcher, Watcher

        roles = set(
            session.scalars(
                select(Watcher.role)
                .where(Watcher.ticket_id == ticket.id, Watcher.user_id == self.user.id)
                .union(  # a member of a group in a role holds the role (as in RT)
                    select(GroupWatcher.role)
                    .join(GroupMember, GroupMember.group_id == GroupWatcher.group_id)
                    .where(GroupWatcher.ticket_id == ticket.id, GroupMember.user_id == self.user.id)
                )
            )
        )
        if ticket.owner_id == self.user.id:
            roles.add("Owner")
        self._ticket_roles[ticket.id] = roles
        return roles

    def remember_roles(self, ticket_id: int, roles: set[str]) -> None:
        """The roles the user holds on ticket `ticket_id` (the Owner role included), read by the
        caller along with the ticket (the mail gateway's lookups): `roles_on` then reads none."""
        self._ticket_roles[ticket_id] = set(roles)

    def forget_ticket(self, ticket_id: int) -> None:
        self._ticket_roles.pop(ticket_id, None)

    def has(
        self,
        right: str,
        queue_id: int | None = None,
        *,
        session: Session | None = None,
        ticket: Ticket | None = None,
    ) -> bool:
        if self.user.disabled:
            return False
        if self.superuser:
            return True
        if right in self.direct[None] or (queue_id is not None and right in self.direct[queue_id]):
            return True
        if ticket is not None and session is not None:
            held = self.roles_on(session, ticket)
            for scope in (None, ticket.queue_id):
                for role in held:
                    if right in self.by_role[scope].get(role, ()):
                        return True
        return False

    def has_any(
        self,
        rights: tuple[str, ...],
        queue_id: int | None = None,
        *,
        session: Session | None = None,
        ticket: Ticket | None = None,
    ) -> bool:
        return any(self.has(r, queue_id, session=session, ticket=ticket) for r in rights)


def deny(user: User, what: str, right: str | tuple[str, ...], where: str) -> PermissionDenied:
    needed = right if isinstance(right, str) else " or ".join(right)
    return PermissionDenied(f"{user.name} may not {what} {where} (needs {needed})")

"""Who is acting, in which session: every operation runs inside a `Context`.

An operation is one database transaction. The outermost `@operation` commits (or rolls back
everything); operations that call other operations join the same transaction. Before the commit,
the transactions recorded by the unit of work are handed to the registered observers (the scrip
engine plugs in there), so their effects land in the same database transaction.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from tessera.core.db import first_line
from tessera.core.errors import DatabaseUnavailable, InvalidInput, NotFound, PermissionDenied
from tessera.core.models import Ticket, Transaction, User
from tessera.core.rights import RightsCache

P = ParamSpec("P")
R = TypeVar("R")

USER_ENV = "TESSERA_USER"


class TransactionObserver(Protocol):
    """Called with the unit of work's new transactions before it commits (the scrip engine)."""

    def __call__(self, ctx: Context, transactions: list[Transaction]) -> None: ...


_observers: list[TransactionObserver] = []


def add_observer(observer: TransactionObserver) -> None:
    if observer not in _observers:
        _observers.append(observer)


def remove_observer(observer: TransactionObserver) -> None:
    if observer in _observers:
        _observers.remove(observer)


@dataclass
class Context:
    session: Session
    actor: User
    rights: RightsCache
    # Set by scrips and migrations: changes made on the desk's own behalf skip rights checks.
    system: bool = False
    depth: int = 0
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    batch: list[Transaction] = field(default_factory=list)
    # Tickets changed by this unit of work: each gets its version bumped once, at commit.
    touched: dict[int, Ticket] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Free for observers (the scrip engine keeps its recursion depth and trace here).
    extras: dict[str, Any] = field(default_factory=dict)

    def can(self, right: str, queue_id: int | None = None, ticket: Ticket | None = None) -> bool:
        return self.system or self.rights.has(right, queue_id, session=self.session, ticket=ticket)

    def can_any(
        self, rights: tuple[str, ...], queue_id: int | None = None, ticket: Ticket | None = None
    ) -> bool:
        return any(self.can(r, queue_id, ticket) for r in rights)

    def require(
        self,
        right: str | tuple[str, ...],
        what: str,
        where: str,
        *,
        queue_id: int | None = None,
        ticket: Ticket | None = None,
    ) -> None:
        rights = (right,) if isinstance(right, str) else right
        if not self.can_any(rights, queue_id, ticket):
            needed = " or ".join(rights)
            raise PermissionDenied(f"{self.actor.name} may not {what} {where} (needs {needed})")


def login_name() -> str:
    """The OS login, used when neither --user nor TESSERA_USER names the actor."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def find_user(session: Session, name_or_email: str) -> User | None:
    key = name_or_email.strip().lower()
    if not key:
        return None
    return session.scalars(
        select(User).where((func.lower(User.name) == key) | (func.lower(User.email) == key))
    ).first()


def resolve_actor(session: Session, name: str | None = None) -> User:
    """`--user NAME`, else `$TESSERA_USER`, else the OS login; unknown or disabled is an error."""
    wanted = name or os.environ.get(USER_ENV) or login_name()
    user = find_user(session, wanted)
    if user is None:
        source = "--user" if name else (USER_ENV if os.environ.get(USER_ENV) else "your login name")
        raise NotFound(
            f"unknown user {wanted!r} (from {source}); an admin can add it with `tessera user add {wanted}`"
        )
    if user.disabled:
        raise PermissionDenied(f"user {user.name!r} is disabled")
    return user


def open_context(session: Session, actor: str | User | None = None) -> Context:
    user = actor if isinstance(actor, User) else resolve_actor(session, actor)
    return Context(session=session, actor=user, rights=RightsCache.load(session, user))


def _translate_integrity(exc: IntegrityError) -> InvalidInput:
    text = first_line(exc)
    if "uq_users_email_lower" in text:
        return InvalidInput("a user with that email address already exists")
    if "uq_users_name_lower" in text:
        return InvalidInput("a user with that name already exists")
    if "uq_queues_name_lower" in text:
        return InvalidInput("a queue with that name already exists")
    if "uq_groups_name_lower" in text:
        return InvalidInput("a group with that name already exists")
    if "uq_custom_fields_name_lower" in text:
        return InvalidInput("a custom field with that name already exists")
    return InvalidInput(f"refused by the database: {text}")


def operation(fn: Callable[Concatenate[Context, P], R]) -> Callable[Concatenate[Context, P], R]:
    """Make `fn` one unit of work: all of it commits, or none of it does."""

    @wraps(fn)
    def wrapper(ctx: Context, *args: P.args, **kwargs: P.kwargs) -> R:
        if ctx.depth:
            return fn(ctx, *args, **kwargs)
        ctx.depth = 1
        ctx.now = datetime.now(UTC)
        session = ctx.session
        try:
            result = fn(ctx, *args, **kwargs)
            session.flush()
            if ctx.batch:
                for observer in list(_observers):
                    observer(ctx, list(ctx.batch))
            for ticket in ctx.touched.values():
                ticket.version = (ticket.version or 1) + 1
            session.flush()
            changed = {txn.ticket_id for txn in ctx.batch} | set(ctx.touched)
            if changed:
                from tessera.core.live import announce

                announce(session, changed)  # delivered by PostgreSQL only if this commits
            session.commit()
            return result
        except IntegrityError as exc:
            session.rollback()
            raise _translate_integrity(exc) from None
        except OperationalError as exc:
            session.rollback()
            raise DatabaseUnavailable(f"database error: {first_line(exc)}") from None
        except BaseException:
            session.rollback()
            raise
        finally:
            ctx.depth = 0
            ctx.batch.clear()
            ctx.touched.clear()
            ctx.rights._ticket_roles.clear()

    return wrapper


def record(
    ctx: Context,
    ticket: Ticket,
    type_: str,
    *,
    field: str | None = None,
    old: object = None,
    new: object = None,
    data: dict[str, Any] | None = None,
) -> Transaction:
    """Append one transaction row for `ticket` and mark the ticket updated by the actor."""
    txn = Transaction(
        ticket_id=ticket.id,
        type=type_,
        field=field,
        old_value=None if old is None else str(old),
        new_value=None if new is None else str(new),
        actor_id=ctx.actor.id,
        created=ctx.now,
        data=data or {},
    )
    ctx.session.add(txn)
    ctx.batch.append(txn)
    ticket.updated = ctx.now
    ticket.updated_by_id = ctx.actor.id
    if type_ != "Create":  # a new ticket starts at version 1
        ctx.touched[ticket.id] = ticket
    return txn
